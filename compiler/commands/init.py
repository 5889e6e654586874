"""`tenantc init DIR`: start a tenant-configuration repository (logic in compiler.scaffold)."""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

HELP = """\
Write a new tenant-configuration repository into DIR: a commented platform file and one
example tenant under tenants/, the JSON Schemas editors use (schemas/), a GitHub workflow
that runs `tenantc check` and posts `tenantc review` on pull requests, pre-commit hooks
that run both, and a README for the team. `tenantc compile` succeeds in it at once.

DIR must be empty or missing; --force writes into a folder that has files, replacing the
ones tenantc init writes (each is listed) and leaving the others alone.

examples:
  tenantc init acme-tenants
  tenantc init . --force --name acme-ml
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser("init", help="start a tenant-config repository (platform, example tenant, CI)",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, metavar="DIR", help="folder to create (must be empty unless --force)")
    parser.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    parser.add_argument("--name", metavar="NAME", help="the platform's name (default: DIR's name as a DNS label)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compiler.scaffold import init_repository

    result = init_repository(args.dir, force=args.force, platform_name=args.name)
    for rel in result.written:
        print(f"wrote {result.root / rel}")
    for rel in result.replaced:
        print(f"replaced {result.root / rel}")
    where = shlex.quote(str(result.root))
    print(f"""
next:
  cd {where}
  tenantc compile                  # tenants/ -> rendered/
  git init -b main && git add -A && git commit -m "tenantc init"
then edit tenants/platform.yaml for your clusters and copy tenants/example-team.yaml per team.""")
    return 0
