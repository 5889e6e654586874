"""`tenantc crds pull`: each cluster's CustomResourceDefinitions, from the cluster into the repository."""
from __future__ import annotations

import argparse

from compiler.commands.live_flags import add_access_flags, selection
from compiler.commands.output import JSON, add_output_flag, write_json

DESCRIPTION = """\
Copy the CustomResourceDefinitions installed on each selected platform cluster into the
repository: one file per CRD, <folder>/<group>/<name>.yaml, where <folder> is the cluster's
`crds` in the platform file (default crds/<cluster>). compile, check and review then validate
each cluster's objects against its own CRDs with no flag (--crd-dir still overrides them for
every cluster), and `tenantc diff` warns when a cluster's CRDs no longer match the copy.

Only the API groups tenantc renders are copied (Volcano's, Fluid's, Argo CD's), unless --all.
Files are deterministic (sorted keys; status, managedFields and the server's bookkeeping
left out); the folder is replaced as a whole, and only when a file changed. Commit it."""

EPILOG = """\
examples:
  tenantc crds pull                               # every platform cluster in the kubeconfig
  tenantc crds pull --cluster gpu-east --context admin@gpu-east
  tenantc --kubeconfig ~/.kube/prod crds pull --all
  git add crds/ && git commit -m "CRDs as installed"

exit codes: 0 ok, 2 error (cluster unreachable, no right to list CRDs, bad platform file)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("crds", help="copy each cluster's CRDs into the repository",
                                   description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="crds_command", metavar="ACTION", required=True)
    pull = actions.add_parser("pull", help="copy the CRDs installed on live clusters into crds/<cluster>/",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    pull.add_argument("--root", default=".", metavar="DIR",
                      help="repository root holding tenants/ (default: current directory)")
    add_access_flags(pull)
    pull.add_argument("--all", action="store_true",
                      help="every CRD of the cluster, not only the groups tenantc renders")
    add_output_flag(pull)
    pull.set_defaults(func=_pull)


def _pull(args: argparse.Namespace) -> int:
    from pathlib import Path

    from compiler.live.crds import pull

    results = pull(Path(args.root), selection(args), all_groups=args.all)
    if args.output == JSON:
        write_json({"clusters": [{"cluster": r.cluster, "folder": r.folder, "files": r.files, "added": r.added,
                                  "changed": r.changed, "removed": r.removed, "skipped": r.skipped}
                                 for r in results]})
        return 0
    for r in results:
        state = (f"{len(r.added)} added, {len(r.changed)} changed, {len(r.removed)} removed" if r.written
                 else "unchanged")
        print(f"{r.folder}/: {len(r.files)} CRDs of cluster {r.cluster} ({state})")
        for name in r.skipped:
            print(f"  skipped {name!r}: not a DNS name, so not a file name")
    return 0
