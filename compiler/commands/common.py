"""Flags several subcommands share: the repository root and the CRD folders."""
from __future__ import annotations

import argparse
from pathlib import Path

from compiler.errors import UserError


def add_repo_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("."), metavar="DIR",
                        help="repository root holding tenants/ and rendered/ (default: current directory)")
    parser.add_argument("--crd-dir", type=Path, action="append", default=[], metavar="DIR",
                        help="folder of CustomResourceDefinitions (searched recursively) to validate custom kinds "
                             "against; repeatable. Use your cluster's CRDs. Without it, custom kinds are reported "
                             "as not validated.")


def crd_dirs(args: argparse.Namespace) -> list[Path]:
    dirs = list(args.crd_dir)
    for d in dirs:
        if not d.is_dir():
            raise UserError(f"--crd-dir {d}: not a folder")
    return dirs
