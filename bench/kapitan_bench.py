"""Compile benchmark beside Kapitan (issue 17): the same synthetic tenants, compiled cold by both.

Kapitan (pinned, KAPITAN_VERSION) runs from a virtual environment of its own in the user cache
(bench/bench_env.py installs it on first use). From bench/compile_bench.py's tenants (the
default, no --workloads: what bench/perf_bench.py compiles) it generates a Kapitan project as
Kapitan's docs lay one out (https://kapitan.dev/pages/inventory/introduction/, .../targets/,
.../classes/; kapicorp/kapitan docs/pages/inventory/*.md):

  inventory/classes/common.yml     the platform (clusters, GPU resources, defaults, queues,
                                   the agent's role) and tenantc's object conventions
                                   (labels, annotations, Argo CD waves, file names)
  inventory/classes/tenant.yml     `kapitan.compile`: components/tenant.jsonnet, input_type
                                   jsonnet, output_type yaml (docs/pages/input_types/jsonnet.md)
  inventory/classes/platform.yml   the member roles, `kapitan.compile`: components/platform.jsonnet
  inventory/targets/<tenant>.yml   parameters.tenant = that tenant's spec, as written for tenantc
  inventory/targets/platform.yml   the platform's own objects

The component (bench/kapitan/*.jsonnet) draws, for each of the tenant's clusters, the objects
tenantc renders for it: Namespace, ServiceAccounts, member RoleBindings, ResourceQuota,
LimitRange, Volcano Queue, queue-reader ClusterRole and binding, NetworkPolicies, the agent's
Role and binding, with the same quota split (whole units, largest remainder). One difference
favours Kapitan: a target sees only its own inventory, so the reverse of `allowFromTenants`
(which tenants let this one in, on which clusters: tenantc works it out across tenants) is
written into each target by the generator instead of read from the global inventory. tenantc
also validates every object against its schema (and the CRDs); Kapitan validates nothing.

Most of Kapitan's time per target is its Jsonnet engine: the C++ `jsonnet` module it installs
took 0.15-0.27 s to evaluate the snippet `1` on the 2-core machine, and Kapitan evaluates each
target's component separately (go-jsonnet, `--use-go-jsonnet`, needs a package Kapitan does not
install and is not measured). Its inventory (reclass) took 0.65 s for 101 targets.

Both outputs are then compared object by object (parsed YAML; tenantc's header comment aside):
the bench prints how many are identical, so the two sides are known to do the same work.

Timed, interleaved (tenantc, kapitan, tenantc, kapitan ...), each a fresh process with no
cache and no previous output: `tenantc compile` (the CLI) and `kapitan compile` at its default
parallelism (min(targets, CPUs)) and with `--parallelism 2` when that differs. Printed: wall
and CPU medians, objects, ms per object, and the ratio (Kapitan's ms per object over tenantc's).

    python bench/kapitan_bench.py [--tenants 100 1000] [--runs 3] [--json] [--keep]

Exit 0 when measured, 3 when Kapitan could not be installed or run (the reason is printed, and
is the `error` of --json), 1 when the outputs differ.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_env import ToolUnavailable, ensure_tool  # noqa: E402
from compile_bench import make_repo, platform_spec, tenant_spec  # noqa: E402
from perf_bench import ENV, crd_flags, tenantc  # noqa: E402

from compiler import kinds  # noqa: E402
from compiler.agent.contract import SIDECAR, WAIT_DATASET  # noqa: E402
from compiler.agent.permissions import rules_for  # noqa: E402
from compiler.delivery import argocd_annotations  # noqa: E402
from compiler.load import yaml_io  # noqa: E402
from compiler.model.platform import Platform  # noqa: E402
from compiler.render.member_roles import MEMBER_ROLES, rules_of  # noqa: E402

KAPITAN_VERSION = "0.36.3"
COMPONENTS = REPO / "bench" / "kapitan"
PLATFORM_TARGET = "platform"
# (apiVersion, kind) of what the component draws: their waves, annotations and file stems come
# from compiler.kinds and compiler.delivery, as tenantc's renderers get them.
KINDS = [("v1", "Namespace"), ("v1", "ServiceAccount"), ("v1", "ResourceQuota"), ("v1", "LimitRange"),
         ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
         ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
         ("networking.k8s.io/v1", "NetworkPolicy"), ("scheduling.volcano.sh/v1beta1", "Queue")]


class RunFailed(Exception):
    """A timed command exited non-zero; the message holds its last output lines."""


# ---- the Kapitan project ------------------------------------------------------------------------

def conventions() -> dict:
    def kind_entry(api_version: str, kind: str) -> dict:
        obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
        return {"wave": str(kinds.stage_of(obj)), "annotations": argocd_annotations(obj),
                "stem": kinds.file_name(obj).removesuffix("-x.yaml")}

    return {
        "labels": {"managedBy": kinds.MANAGED_BY_LABEL, "managedByValue": kinds.MANAGED_BY_VALUE,
                   "tenant": kinds.TENANT_LABEL, "cluster": kinds.CLUSTER_LABEL,
                   "namespaceName": kinds.NAMESPACE_NAME_LABEL},
        "annotations": {"source": kinds.SOURCE_ANNOTATION, "syncWave": kinds.SYNC_WAVE_ANNOTATION},
        "kinds": {f"{api}/{kind}": kind_entry(api, kind) for api, kind in KINDS},
        "memberRolePrefix": kinds.MEMBER_ROLE_PREFIX, "queueReaderPrefix": kinds.QUEUE_READER_PREFIX,
        "platformTenant": kinds.PLATFORM_TENANT, "queueApi": "scheduling.volcano.sh/v1beta1",
    }


def platform_parameters(spec: dict) -> dict:
    """The platform file as a Kapitan class would hold it, with tenantc's defaults written out."""
    platform = Platform.model_validate(spec)
    return {
        "clusters": [{"name": c.name, "gpuResources": c.gpu_models(), "gpuResourceNames": c.gpu_resources()}
                     for c in platform.clusters],
        "podSecurity": platform.defaults.pod_security,
        "dnsNamespace": platform.dns_namespace, "monitoringNamespace": platform.monitoring_namespace,
        "limitRange": spec["defaults"]["limitRange"],
        "queues": [{"name": q["name"], "weight": q["weight"], "parent": platform.root_queue} for q in spec["queues"]],
        "agentRules": rules_for(SIDECAR, WAIT_DATASET),
    }


def compile_class(component: str, **parameters: object) -> dict:
    return {"parameters": {**parameters, "kapitan": {"compile": [
        {"output_path": ".", "input_type": "jsonnet", "output_type": "yaml",
         "input_paths": [f"components/{component}.jsonnet"]}]}}}


def write_kapitan_project(root: Path, tenants: int) -> list[str]:
    """The Kapitan project of `tenants` synthetic tenants (make_repo's) under `root`."""
    names = [f"team-{i:04d}" for i in range(tenants)]
    specs = [tenant_spec(i, names) for i in range(tenants)]
    letting_in: dict[str, list[dict]] = {}
    for spec in specs:
        for peer in sorted(set(spec["network"].get("allowFromTenants", []))):
            letting_in.setdefault(peer, []).append({"tenant": spec["name"], "clusters": sorted(spec["placement"])})
    classes, targets = root / "inventory" / "classes", root / "inventory" / "targets"
    classes.mkdir(parents=True)
    targets.mkdir(parents=True)
    shutil.copytree(COMPONENTS, root / "components")
    (classes / "common.yml").write_text(yaml_io.dump(
        {"parameters": {"platform": platform_parameters(platform_spec(tenants)), "conventions": conventions()}}))
    (classes / "tenant.yml").write_text(yaml_io.dump(compile_class("tenant")))
    # The member roles only in the platform's class: every target inherits `common` (reclass
    # renders its parameters once per target), and only the platform target draws these.
    (classes / "platform.yml").write_text(yaml_io.dump(compile_class(
        "platform", memberRules={role: rules_of(role) for role in MEMBER_ROLES})))
    (targets / f"{PLATFORM_TARGET}.yml").write_text(yaml_io.dump(
        {"classes": ["common", "platform"], "parameters": {"source": "tenants/platform.yaml",
                                                           "kapitan": {"vars": {"target": PLATFORM_TARGET}}}}))
    for spec in specs:
        (targets / f"{spec['name']}.yml").write_text(yaml_io.dump({"classes": ["common", "tenant"], "parameters": {
            "kapitan": {"vars": {"target": spec["name"]}}, "source": f"tenants/{spec['name']}.yaml", "tenant": spec,
            "allowedInBy": sorted(letting_in.get(spec["name"], []), key=lambda r: r["tenant"])}}))
    return names


# ---- outputs ------------------------------------------------------------------------------------

def tenantc_objects(rendered: Path) -> dict[tuple[str, str, str], Path]:
    """(cluster, unit, file stem) -> file, for rendered/<cluster>/<unit>/<stem>.yaml."""
    return {(p.parts[-3], p.parts[-2], p.stem): p for p in rendered.glob("*/*/*.yaml")
            if not p.parts[-3].startswith("_")}


def kapitan_objects(compiled: Path) -> dict[tuple[str, str, str], Path]:
    """The same keys for compiled/<target>/<cluster>/<stem>.yaml (target `platform` = _platform)."""
    return {(p.parts[-2], kinds.PLATFORM_DIR if p.parts[-3] == PLATFORM_TARGET else p.parts[-3], p.stem): p
            for p in compiled.glob("*/*/*.yaml")}


@dataclass
class Comparison:
    identical: int = 0
    different: list[str] = field(default_factory=list)
    only_tenantc: list[str] = field(default_factory=list)
    only_kapitan: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not (self.different or self.only_tenantc or self.only_kapitan)

    def summary(self) -> str:
        text = f"{self.identical} identical"
        for label, keys in (("differ", self.different), ("only tenantc", self.only_tenantc),
                            ("only Kapitan", self.only_kapitan)):
            if keys:
                text += f", {len(keys)} {label} (e.g. {keys[0]})"
        return text


def compare(rendered: Path, compiled: Path) -> Comparison:
    ours, theirs = tenantc_objects(rendered), kapitan_objects(compiled)
    result = Comparison()
    for key in sorted(ours.keys() | theirs.keys()):
        name = "/".join(key)
        if key not in theirs:
            result.only_tenantc.append(name)
        elif key not in ours:
            result.only_kapitan.append(name)
        elif yaml_io.load(ours[key].read_bytes()) == yaml_io.load(theirs[key].read_bytes()):
            result.identical += 1
        else:
            result.different.append(name)
    return result


# ---- timing -------------------------------------------------------------------------------------

@dataclass
class Sample:
    wall: float
    cpu: float


def run_timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[Sample, str]:
    """Wall and CPU seconds (the child's, with its own children: Kapitan's worker pool) of one run."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = os.times()
    if proc.returncode != 0:
        lines = [x for x in (proc.stderr + proc.stdout).splitlines() if x.strip()]
        raise RunFailed(f"{Path(argv[0]).name} {' '.join(argv[1:3])} exited {proc.returncode}: "
                        + " / ".join(lines[-4:]))
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return Sample(wall, cpu), proc.stdout + proc.stderr


@dataclass
class Side:
    label: str
    samples: list[Sample] = field(default_factory=list)
    objects: int = 0

    def median(self, what: str) -> float:
        return statistics.median(getattr(s, what) for s in self.samples)

    def ms_per_object(self, what: str) -> float:
        return self.median(what) * 1000 / self.objects if self.objects else float("nan")

    def as_dict(self) -> dict:
        return {"label": self.label, "wall_s": self.median("wall"), "cpu_s": self.median("cpu"),
                "objects": self.objects, "wall_ms_per_object": self.ms_per_object("wall"),
                "cpu_ms_per_object": self.ms_per_object("cpu"), "runs": [asdict(s) for s in self.samples]}


def kapitan_variants(kapitan: Path, tenants: int) -> list[tuple[str, list[str]]]:
    """Kapitan's default parallelism (min(targets, the CPUs it sees), by its own count), and
    --parallelism 2 when the default is another number."""
    ask = "from kapitan.utils import available_cpu_count as n; print(n())"
    cpus = subprocess.run([str(kapitan / "python"), "-c", ask], capture_output=True, text=True, check=False)
    default = min(tenants + 1, int(cpus.stdout)) if cpus.stdout.strip().isdigit() else None
    variants: list[tuple[str, list[str]]] = [(f"default: {default or '?'} processes", [])]
    if default != 2:
        variants.append(("--parallelism 2", ["--parallelism", "2"]))
    return variants


def bench_size(tenants: int, kapitan: Path, runs: int, crd_dirs: list[Path], scratch: Path) -> dict:
    ours_root, theirs_root = scratch / f"tenantc-{tenants}", scratch / f"kapitan-{tenants}"
    make_repo(ours_root, tenants)
    write_kapitan_project(theirs_root, tenants)
    kapitan_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    ours = Side("tenantc compile (CLI)")
    variants = kapitan_variants(kapitan, tenants)
    theirs = [Side(f"kapitan compile ({variant})") for variant, _ in variants]
    for _ in range(runs):  # interleaved: tenantc, then each Kapitan variant, again
        for stale in (ours_root / "rendered", ours_root / ".tenantc-cache"):
            shutil.rmtree(stale, ignore_errors=True)
        ours.samples.append(run_timed(tenantc("compile", *crd_flags(crd_dirs)), ours_root, ENV)[0])
        for side, (_, flags) in zip(theirs, variants, strict=True):
            shutil.rmtree(theirs_root / "compiled", ignore_errors=True)
            side.samples.append(run_timed([str(kapitan / "kapitan"), "compile", *flags], theirs_root, kapitan_env)[0])
    ours.objects = len(tenantc_objects(ours_root / "rendered"))
    for side in theirs:
        side.objects = len(kapitan_objects(theirs_root / "compiled"))
    same = compare(ours_root / "rendered", theirs_root / "compiled")
    kapitan = [{**side.as_dict(), "variant": variant,
                **{f"ratio_{what}": side.ms_per_object(what) / ours.ms_per_object(what) for what in ("wall", "cpu")}}
               for side, (variant, _) in zip(theirs, variants, strict=True)]
    return {"tenants": tenants, "tenantc": ours.as_dict(), "kapitan": kapitan,
            "comparison": {"identical": same.identical, "same": same.same, "summary": same.summary()}}


# ---- report -------------------------------------------------------------------------------------

def print_size(result: dict) -> None:
    n, ours = result["tenants"], result["tenantc"]
    print(f"\n{n} tenants, medians of {len(ours['runs'])} interleaved cold runs; outputs compared: "
          f"{result['comparison']['summary']}")
    print(f"  {'':44} {'wall s':>7} {'CPU s':>7} {'objects':>8} {'ms/obj wall':>12} {'ms/obj CPU':>11}")
    for side in [ours, *result["kapitan"]]:
        print(f"  {side['label']:44} {side['wall_s']:7.2f} {side['cpu_s']:7.2f} {side['objects']:8d} "
              f"{side['wall_ms_per_object']:12.3f} {side['cpu_ms_per_object']:11.3f}")
    print(f"  objects per tenant: tenantc {ours['objects'] / n:.1f}, "
          f"Kapitan {result['kapitan'][0]['objects'] / n:.1f} (both with the platform's own objects)")
    for side in result["kapitan"]:
        print(f"  ratio per object, {side['label']} / tenantc: {side['ratio_wall']:.1f}x wall, "
              f"{side['ratio_cpu']:.1f}x CPU")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs of each side per size")
    parser.add_argument("--crd-dir", type=Path, action="append", default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object (for bench/perf_bench.py)")
    parser.add_argument("--keep", action="store_true", help="keep both generated projects and print where")
    args = parser.parse_args()
    shared = REPO.parent / "shared" / "crds"
    crd_dirs = args.crd_dir if args.crd_dir is not None else [shared] if shared.is_dir() else []
    out: dict = {"kapitan_version": KAPITAN_VERSION, "cpus": len(os.sched_getaffinity(0)), "sizes": [], "error": None}
    scratch = Path(tempfile.mkdtemp(prefix="tenantc-kapitan-"))
    try:
        kapitan = ensure_tool("kapitan", KAPITAN_VERSION)
        for n in args.tenants:
            out["sizes"].append(bench_size(n, kapitan, args.runs, crd_dirs, scratch))
            if not args.json:
                print_size(out["sizes"][-1])
    except (ToolUnavailable, RunFailed) as exc:
        out["error"] = f"kapitan {KAPITAN_VERSION}: {exc}"
    finally:
        if args.keep:
            print(f"projects kept in {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=1))
    elif out["error"]:
        print(f"Kapitan side by side not run: {out['error']}")
    if out["error"]:
        return 3
    return 0 if all(s["comparison"]["same"] for s in out["sizes"]) else 1


if __name__ == "__main__":
    sys.exit(main())
