"""`tenantc schema`: write schemas/*.schema.json from the models."""
from __future__ import annotations

import argparse
from pathlib import Path

from compiler.schema_export import write_schema_files


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "schema", help="write schemas/tenant.schema.json and schemas/platform.schema.json",
        description="Write JSON Schemas of the spec files, generated from the models. Editors use them "
                    "through the yaml-language-server modeline at the top of each spec; `tenantc check` "
                    "fails when they are stale.")
    parser.add_argument("--root", type=Path, default=Path("."), metavar="DIR")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    written = write_schema_files(args.root)
    print("\n".join(f"wrote {p}" for p in written) or "schemas/ already up to date")
    return 0
