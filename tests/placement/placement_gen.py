"""A seeded generator of valid repositories for the placement oracle: the example platform with
2 to 4 tenants whose GPU quota, jobs, notebooks and cached datasets are drawn at random.

Where tests/oracles/tenant_gen.py varies what the network oracle judges (namespaces, CIDRs,
allowed tenants), this one varies what decides where pods land: GPU models per cluster (one
tenant with several, one with none), jobs of every platform template (GPU roles with CPU roles
beside them: a TF parameter server, an MPI launcher), GPU and CPU notebooks, cached datasets of
each cache runtime read by CPU and GPU pods of several models, datasets exported to another
tenant, waits for data behind a preload, scaling schedules. Everything it draws must compile;
a spec the compiler rejects is a bug of the generator and fails the test that asked for it.
"""
from __future__ import annotations

import random
from pathlib import Path

import yaml
from helpers import write_specs

REPO = Path(__file__).resolve().parents[2]
WORDS = ["atlas", "beacon", "cobalt", "dune", "echo", "flint", "garnet", "helix", "iris", "jade", "krill", "lotus"]
RUNTIMES = ["alluxio", "jindo", "juicefs"]
TEMPLATES = ["pytorch-ddp", "tf-parameter-server", "mpi-horovod"]  # with GPUs; "cpu-batch" without
MAX_TENANTS = 4


def _platform() -> dict:
    platform = yaml.safe_load((REPO / "tenants" / "platform.yaml").read_text())
    platform.pop("globalDatasets", None)  # they name an example tenant
    for cluster in platform["clusters"]:  # and so do resource groups (pools dedicated to a tenant)
        cluster["nodePools"] = [p for p in cluster["nodePools"] if "tenant" not in p]
    return platform


def _models(platform: dict) -> dict[str, list[str]]:
    """Cluster -> the GPU models of its pools."""
    return {c["name"]: sorted({p["gpuModel"] for p in c["nodePools"] if p.get("role") == "gpu"})
            for c in platform["clusters"]}


def _gpu_cost(platform: dict, template: str) -> int:
    """GPUs a job of `template` holds while the oracle places it: every replica, plus one more
    pod per GPU role for the near-cache probe (placed while the job's pods still run)."""
    roles = next(t for t in platform["templates"] if t["name"] == template)["roles"]
    gpus = [(r.get("replicas", 1), int(r.get("resources", {}).get("gpu", 0))) for r in roles]
    return sum(n * g for n, g in gpus) + sum(g for _, g in gpus)


def _model_share(platform: dict) -> dict[str, int]:
    """GPU model -> what one tenant may hold, so that MAX_TENANTS tenants fit the capacity of the
    resource name the model is counted under (each model sits on one cluster here)."""
    out = {}
    for cluster in platform["clusters"]:
        for pool in cluster["nodePools"]:
            if pool.get("role") == "gpu":
                resource = pool.get("gpuResource", "nvidia.com/gpu")
                sharing = len([p for p in cluster["nodePools"] if p.get("gpuResource", "nvidia.com/gpu") == resource
                               and p.get("role") == "gpu"])
                out[pool["gpuModel"]] = int(cluster["capacity"][resource]) // (MAX_TENANTS * sharing)
    return out


def _dataset(rng: random.Random, name: str) -> dict:
    runtime = rng.choice(RUNTIMES)
    dataset: dict = {"name": name, "mounts": [{"uri": f"oss://bucket-{name}/data/"}],
                     "runtime": {"type": runtime, "replicas": rng.randint(1, 2),
                                 "tiers": [{"medium": "SSD", "path": f"/mnt/cache/{name}", "quota": "100Gi"}]}}
    if runtime == "juicefs":
        dataset["mounts"] = [{"uri": f"juicefs://{name}"}]
    if rng.random() < 0.8:
        dataset["preload"] = {"paths": ["/"]}
    if rng.random() < 0.3:
        dataset["scaling"] = [{"schedule": "0 8 * * 1-5", "replicas": 3}, {"schedule": "0 20 * * 1-5", "replicas": 1}]
    return dataset


def _tenant(rng: random.Random, name: str, platform: dict) -> dict:
    models = _models(platform)
    placed = rng.sample(sorted(models), rng.randint(1, len(models)))
    owner = f"{name}.lead@example.com"
    gpus: dict[str, int] = {}
    if rng.random() < 0.8:  # a tenant without GPUs keeps its CPU work off every GPU pool too
        available = sorted({m for c in placed for m in models[c]})
        for model in rng.sample(available, rng.randint(1, len(available))):
            gpus[model] = min(8, _model_share(platform)[model])
    quota: dict = {"cpu": "512", "memory": "4096Gi", "pods": 400, "pvcs": 40, "storage": "20Ti"}
    if gpus:
        quota["gpu"] = gpus
    spec: dict = {"name": name, "displayName": name.title(), "owner": owner,
                  "members": [{"user": owner, "role": "admin"}, {"group": f"{name}-eng", "role": "edit"}],
                  "quota": quota, "placement": {c: {"weight": 1} for c in placed},
                  "queue": {"weight": 1, "parent": rng.choice(["research", "production"])}}
    datasets = [_dataset(rng, f"d{i}-{name}") for i in range(rng.choice([0, 1, 1, 2]))]
    if datasets:
        spec["datasets"] = datasets
    readable = [d["name"] for d in datasets]
    gpu_clusters = [c for c in placed if any(m in gpus for m in models[c])]
    jobs = []
    left = dict(gpus)  # GPUs of each model not yet held by a drawn job or notebook (each model on one cluster)
    for i in range(rng.randint(1, 3)):
        cluster = rng.choice(gpu_clusters) if gpu_clusters and rng.random() < 0.75 else rng.choice(placed)
        model = rng.choice([m for m in models[cluster] if m in gpus]) if cluster in gpu_clusters else None
        fits = [t for t in TEMPLATES if 0 < _gpu_cost(platform, t) <= left.get(model or "", 0)]
        template = rng.choice(fits) if fits else "cpu-batch"
        job: dict = {"name": f"job{i}", "template": template, "cluster": cluster,
                     "roles": [{"name": r, "image": "registry.example.com/ml/train:1"} for r in _roles(template)]}
        if template != "cpu-batch":
            job["gpuModel"] = model
            left[model] -= _gpu_cost(platform, template)
        if readable and rng.random() < 0.7:
            job["datasets"] = rng.sample(readable, rng.randint(1, len(readable)))
            preloaded = [d for d in datasets if d["name"] in job["datasets"] and "preload" in d]
            if preloaded and len(preloaded) == len(job["datasets"]) and rng.random() < 0.7:
                job["waitForData"] = {"minCachedPercent": rng.choice([50, 90])}
        jobs.append(job)
    spec["jobs"] = jobs
    notebooks = []
    for user in [owner, f"{name}.dev@example.com"][:rng.randint(1, 2)]:
        if user not in {m.get("user") for m in spec["members"]}:
            spec["members"].append({"user": user, "role": "edit"})
        cluster = rng.choice(placed)
        gpu_model = next((m for m in models[cluster] if left.get(m, 0) >= 2), None)  # the notebook and its probe
        size = "gpu" if gpu_model and rng.random() < 0.5 else rng.choice(["small", "large"])
        if size == "gpu":
            left[gpu_model] -= 2
        notebook: dict = {"user": user, "image": "jupyter-torch", "size": size, "cluster": cluster}
        if readable and rng.random() < 0.5:
            notebook["datasets"] = [rng.choice(readable)]
        notebooks.append(notebook)
    if notebooks:
        spec["notebooks"] = notebooks
    return spec


def _roles(template: str) -> list[str]:
    return {"pytorch-ddp": ["master", "worker"], "tf-parameter-server": ["ps", "chief", "worker"],
            "mpi-horovod": ["launcher", "worker"], "cpu-batch": ["worker"]}[template]


def generate(seed: int) -> tuple[dict, list[dict]]:
    """(platform file, tenant specs) of one seed."""
    rng = random.Random(seed)
    platform = _platform()
    names = [f"{w}-{seed}" for w in rng.sample(WORDS, rng.randint(2, MAX_TENANTS))]
    tenants = [_tenant(rng, n, platform) for n in names]
    owners = [t for t in tenants if t.get("datasets")]
    if owners and len(tenants) > 1 and rng.random() < 0.7:  # one dataset shared with another tenant
        owner = rng.choice(owners)
        dataset = rng.choice(owner["datasets"])
        reader = rng.choice([t for t in tenants if t is not owner])
        dataset["exportTo"] = [{"tenant": reader["name"]}]
        job = rng.choice(reader["jobs"])
        reader["imports"] = [{"tenant": owner["name"], "dataset": dataset["name"]}]
        if job["cluster"] in owner["placement"]:
            job["datasets"] = [*job.get("datasets", []), dataset["name"]]
            job.pop("waitForData", None)
    return platform, tenants


def write_repo(root: Path, seed: int) -> Path:
    return write_specs(root, *generate(seed))
