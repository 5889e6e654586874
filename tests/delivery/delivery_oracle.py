"""What Argo CD (and Volcano, and Kubernetes) are documented to do to a rendered/ tree.

Argo CD cannot run here, so this module models the documented rules it needs, each with its
source, and nothing of what tenantc means by its output: it never imports compiler.delivery
nor compiler.render. From a rendered/ tree it expands the ApplicationSet into Applications,
then plays the events a platform lives through and says what happens to every object:

- `removed_from_git`: an object leaves an Application's folder (a member removed, a dataset
  dropped): does the automated sync prune it, and does the Application stay OutOfSync?
- `application_deleted`: an Application goes away (a tenant leaves a cluster, so its
  generator element disappears; the ApplicationSet is deleted; someone runs
  `argocd app delete`): which of its objects are deleted, directly or with their Namespace?
- `run_time_changes`: every scheduled scaler in the tree is run with the agent's own code
  against a recording client; is the change it makes reverted (by self-heal, or by the next
  sync) or kept? And is any ignored field never changed at run time (so a Git change to it
  would never reach the cluster)?
- `job_reruns`: a Volcano Job or a JobFlow step finishes: is it deleted by Volcano and made
  again (by Argo CD's sync, or by the JobFlow controller), so it runs again?

Each rule cites its source where it is modelled: Argo CD's documentation and code in
argoproj/argo-cd at 37ee0097cf85 (v3.6.0, the commit ../shared/crds/argocd comes from),
Volcano's in volcano-sh/volcano at ed72c7c815a9 (the commit of ../shared/crds/volcano), and
the Kubernetes documentation. Anything the tree uses that no rule here covers raises
NotModelled rather than being guessed.
"""
from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.agent import contract
from compiler.agent.scale_runtime import scale
from compiler.load import yaml_io

ARGO = "argoproj/argo-cd@37ee0097cf85"
VOLCANO = "volcano-sh/volcano@ed72c7c815a9"
K8S_NAMESPACES = "kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace"

SYNC_OPTIONS_DOC = f"{ARGO}:docs/user-guide/sync-options.md"
COMPARE_OPTIONS_DOC = f"{ARGO}:docs/user-guide/compare-options.md"
AUTO_SYNC_DOC = f"{ARGO}:docs/user-guide/auto_sync.md"
DIFFING_DOC = f"{ARGO}:docs/user-guide/diffing.md"
APP_DELETION_DOC = f"{ARGO}:docs/user-guide/app_deletion.md"
APPSET_DELETION_DOC = f"{ARGO}:docs/operator-manual/applicationset/Application-Deletion.md"
APPSET_POLICY_DOC = f"{ARGO}:docs/operator-manual/applicationset/Controlling-Resource-Modification.md"
APPSET_GOTEMPLATE_DOC = f"{ARGO}:docs/operator-manual/applicationset/GoTemplate.md"
APPSET_LIST_DOC = f"{ARGO}:docs/operator-manual/applicationset/Generators-List.md"

SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"
RESOURCES_FINALIZERS = ("resources-finalizer.argocd.argoproj.io",
                        "resources-finalizer.argocd.argoproj.io/background")
TTL = "ttlSecondsAfterFinished"


class NotModelled(Exception):
    """The tree uses an Argo CD feature this model does not know: add its documented rule."""


# -- identity and helpers ----------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Ref:
    cluster: str  # the Application's destination (server URL, else cluster name)
    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} @ {self.cluster}"


def _group(obj: dict) -> str:
    api = obj.get("apiVersion", "")
    return api.rsplit("/", 1)[0] if "/" in api else ""


def ref_of(cluster: str, obj: dict) -> Ref:
    meta = obj.get("metadata") or {}
    return Ref(cluster, _group(obj), obj.get("kind", ""), meta.get("namespace") or "", meta.get("name", ""))


def _annotation_csv(obj: dict, key: str) -> list[str]:
    """sync-options.md: options in the annotation "can be concatenated with a `,` ...;
    white-space will be trimmed" (gitops-engine/pkg/sync/resource/annotations.go,
    GetAnnotationCSVs)."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(key, "")
    return [item.strip() for item in raw.split(",") if item.strip()]


def _option_value(options: list[str], key: str) -> str | None:
    for item in options:
        if item.startswith(key + "="):
            return item[len(key) + 1:]
    return None


# -- the Applications an ApplicationSet makes ---------------------------------------------------
@dataclass
class Application:
    name: str
    cluster: str
    spec: dict
    finalizers: list[str]
    objects: dict[Ref, dict] = field(default_factory=dict)

    @property
    def sync_policy(self) -> dict:
        return self.spec.get("syncPolicy") or {}

    @property
    def automated(self) -> dict | None:
        auto = self.sync_policy.get("automated")
        if auto is None or auto.get("enabled") is False:  # auto_sync.md: `enabled: false` turns it off
            return None
        return auto

    @property
    def sync_options(self) -> list[str]:
        return list(self.sync_policy.get("syncOptions") or [])

    def sync_option(self, obj: dict, key: str) -> str | None:
        """sync-options.md (No Prune Resources, No Resource Deletion): "setting a Prune [Delete]
        sync option on the resource will always override a Prune [Delete] sync policy defined
        in the Application" (controller/appcontroller.go shouldBeDeleted,
        gitops-engine/pkg/sync/sync_context.go isPruningDisabled)."""
        value = _option_value(_annotation_csv(obj, SYNC_OPTIONS), key)
        return value if value is not None else _option_value(self.sync_options, key)

    def respects_ignore_differences(self, obj: dict) -> bool:
        """sync-options.md (Respect ignore differences configs): the per-resource annotation
        overrides the application-level setting in either direction; `false` "has no effect
        when the app-level option is not set"."""
        app_level = "RespectIgnoreDifferences=true" in self.sync_options
        value = _option_value(_annotation_csv(obj, SYNC_OPTIONS), "RespectIgnoreDifferences")
        return app_level if value is None else value == "true"


_PARAM = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _render(value: Any, params: dict, missing_error: bool) -> Any:
    """GoTemplate.md: with goTemplate, `{{.param}}` is replaced by the element's value; with
    `missingkey=error` a missing key is an error. Anything else in `{{ }}` is not modelled."""
    if isinstance(value, dict):
        return {k: _render(v, params, missing_error) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, params, missing_error) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        key = match.group(1)
        if key not in params:
            if missing_error:
                raise KeyError(f"missingkey=error: element has no {key!r}")
            return "<no value>"
        return str(params[key])

    out = _PARAM.sub(one, value)
    if "{{" in out:
        raise NotModelled(f"template expression beyond {{{{.param}}}}: {value!r}")
    return out


def applications(tree: dict[str, dict]) -> list[Application]:
    """Expand every ApplicationSet of rendered/_argocd/ (list generator only) and give each
    Application the objects of its source folder.

    - Generators-List.md: one Application per element; GoTemplate.md: parameters by name.
    - Application-Deletion.md: generated Applications carry the
      `resources-finalizer.argocd.argoproj.io` finalizer "if .syncPolicy.preserveResourcesOnDeletion
      is set to false" (applicationset/utils/utils.go RenderTemplateParams: and only when the
      template sets no finalizers of its own).
    - A directory source takes the manifests in `path` (not below it unless `recurse`)."""
    apps = []
    for obj in tree.values():
        if obj.get("kind") != "ApplicationSet":
            continue
        spec = obj["spec"]
        if not spec.get("goTemplate"):
            raise NotModelled("fasttemplate ApplicationSets (goTemplate: false)")
        if spec.get("templatePatch"):
            raise NotModelled("templatePatch")
        missing_error = "missingkey=error" in (spec.get("goTemplateOptions") or [])
        preserve = bool((spec.get("syncPolicy") or {}).get("preserveResourcesOnDeletion"))
        for generator in spec["generators"]:
            if set(generator) != {"list"}:
                raise NotModelled(f"generator {sorted(generator)}")
            for element in generator["list"]["elements"]:
                app = _render(spec["template"], element, missing_error)
                finalizers = list(app["metadata"].get("finalizers") or [])
                if not preserve and not finalizers:
                    finalizers = [RESOURCES_FINALIZERS[0]]
                app_spec = app["spec"]
                dest = app_spec["destination"]
                cluster = dest.get("server") or dest.get("name")
                source = app_spec["source"]
                if (source.get("directory") or {}).get("recurse"):
                    raise NotModelled("recursive directory sources")
                folder = source["path"].removeprefix("rendered/").rstrip("/") + "/"
                application = Application(app["metadata"]["name"], cluster, app_spec, finalizers)
                for path, manifest in sorted(tree.items()):
                    if path.startswith(folder) and "/" not in path[len(folder):]:
                        application.objects[ref_of(cluster, manifest)] = manifest
                apps.append(application)
    return apps


# -- outcomes -------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Outcome:
    scenario: str
    ref: Ref
    fate: str  # deleted | kept | kept, OutOfSync (sync retried forever) | reverted ... | re-run ...
    why: str


DELETED = "deleted"
KEPT = "kept"
SYNC_LOOP = "kept, but the Application stays OutOfSync and self-heal retries the sync forever"
REVERTED_SELF_HEAL = "reverted by self-heal"
REVERTED_NEXT_SYNC = "reverted by the next sync of the Application"
FROZEN = "ignored although nothing changes it at run time: a Git change to it is never applied"
RERUN_ARGO = "deleted by Volcano after finishing, re-created by Argo CD's automated sync: runs again"
RERUN_FLOW = "deleted by Volcano after finishing, re-created by the JobFlow controller: the step runs again"
RERUN_BY_HAND = "if deleted by hand, re-created by self-heal: runs again"


def _namespace_cascade(scenario: str, deleted: Ref, live: dict[Ref, dict]) -> Iterator[Outcome]:
    """Kubernetes: deleting a Namespace "deletes _everything_ under the namespace"
    (K8S_NAMESPACES)."""
    if deleted.group == "" and deleted.kind == "Namespace":
        for ref in live:
            if ref.cluster == deleted.cluster and ref.namespace == deleted.name:
                yield Outcome(scenario, ref, DELETED, f"its Namespace {deleted.name} was deleted ({K8S_NAMESPACES})")


def _live(apps: list[Application]) -> dict[Ref, dict]:
    return {ref: obj for app in apps for ref, obj in app.objects.items()}


def removed_from_git(apps: list[Application]) -> list[Outcome]:
    """Each object, alone, leaves its Application's folder; the automated sync follows.

    - auto_sync.md (Automatic Pruning): automated sync deletes resources no longer in Git only
      with `prune: true`.
    - sync-options.md (No Prune Resources): `Prune=false` on the resource skips it ("The app
      will be out of sync if Argo CD expects a resource to be pruned"); `Prune=confirm` waits for
      a manual confirmation. The live object's annotation decides
      (gitops-engine/pkg/sync/sync_context.go pruneObject).
    - compare-options.md: `IgnoreExtraneous` excludes a resource that needs pruning from the
      Application's sync status (controller/state.go: needsPruning && IgnoreExtraneous).
    - auto_sync.md (Automated Sync Semantics): with `selfHeal`, an OutOfSync Application is
      synced again after the self-heal timeout, so a skipped prune is retried forever."""
    out: list[Outcome] = []
    live = _live(apps)
    for app in apps:
        auto = app.automated
        for ref, obj in sorted(app.objects.items()):
            scenario = "removed from Git"
            if auto is None or not auto.get("prune"):
                out.append(Outcome(scenario, ref, KEPT, f"automated prune is off ({AUTO_SYNC_DOC})"))
                continue
            prune = app.sync_option(obj, "Prune")
            if prune in ("false", "confirm"):
                extraneous_ok = "IgnoreExtraneous" in _annotation_csv(obj, COMPARE_OPTIONS)
                fate = KEPT if extraneous_ok or not auto.get("selfHeal") else SYNC_LOOP
                out.append(Outcome(scenario, ref, fate, f"Prune={prune} ({SYNC_OPTIONS_DOC}); IgnoreExtraneous "
                                   f"{'set' if extraneous_ok else 'not set'} ({COMPARE_OPTIONS_DOC})"))
                continue
            out.append(Outcome(scenario, ref, DELETED, f"automated prune ({AUTO_SYNC_DOC}, {SYNC_OPTIONS_DOC})"))
            out.extend(_namespace_cascade("its Namespace removed from Git", ref, live))
    return out


def application_deleted(apps: list[Application], by_hand: bool = False) -> list[Outcome]:
    """Each Application is deleted; what happens to its objects.

    Without `by_hand`: the ApplicationSet deletes it, because its generator element went away
    (APPSET_POLICY_DOC: the default policy `sync` allows "Create, Update and Delete"; a policy
    set on the ApplicationSet only counts when the controller allows overrides, so it is not
    relied on) or because the ApplicationSet was deleted (APPSET_DELETION_DOC: owner
    references). With `by_hand`: `argocd app delete` (APP_DELETION_DOC: a cascade delete, the
    default, adds the finalizer).

    - APP_DELETION_DOC (About The Deletion Finalizer): the controller deletes the Application's
      resources only when it has `resources-finalizer.argocd.argoproj.io`.
    - sync-options.md (No Resource Deletion): `Delete=false` keeps the resource "during app
      deletion"; `Delete=confirm` waits for a confirmation (controller/appcontroller.go
      shouldBeDeleted).
    - Then the Namespace cascade of Kubernetes."""
    out: list[Outcome] = []
    live = _live(apps)
    scenario = "Application deleted by hand (cascade)" if by_hand else "Application deleted by its ApplicationSet"
    for app in apps:
        finalizers = RESOURCES_FINALIZERS[:1] if by_hand else app.finalizers
        cascade = any(f in RESOURCES_FINALIZERS for f in finalizers)
        for ref, obj in sorted(app.objects.items()):
            if not cascade:
                out.append(Outcome(scenario, ref, KEPT, f"no resources finalizer ({APP_DELETION_DOC}, "
                                   f"{APPSET_DELETION_DOC})"))
                continue
            delete = app.sync_option(obj, "Delete")
            if delete in ("false", "confirm"):
                out.append(Outcome(scenario, ref, KEPT, f"Delete={delete} ({SYNC_OPTIONS_DOC})"))
                continue
            out.append(Outcome(scenario, ref, DELETED, f"resources finalizer ({APP_DELETION_DOC})"))
            out.extend(_namespace_cascade(scenario, ref, live))
    return _deleted_wins(out)


def _deleted_wins(outcomes: list[Outcome]) -> list[Outcome]:
    """One outcome per object: deleted if any rule deletes it (an object kept by its own
    annotations still goes with its Namespace), with every reason."""
    by_ref: dict[tuple[str, Ref], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_ref[(o.scenario, o.ref)].append(o)
    out = []
    for (scenario, ref), found in sorted(by_ref.items()):
        deleted = [o for o in found if o.fate == DELETED]
        chosen = deleted or found
        out.append(Outcome(scenario, ref, chosen[0].fate, "; ".join(sorted({o.why for o in chosen}))))
    return out


# -- run-time changes ---------------------------------------------------------------------------
class _RecordingClient:
    """Stands in for the API server under the agent's own scale command: records the patch."""

    def __init__(self) -> None:
        self.patches: list[tuple[str, dict]] = []

    def merge_patch(self, path: str, patch: dict, timeout: float | None = None) -> dict:
        self.patches.append((path, patch))
        return patch


def _containers(obj: Any) -> Iterator[dict]:
    if isinstance(obj, dict):
        for key in ("containers", "initContainers"):
            if isinstance(obj.get(key), list):
                yield from (c for c in obj[key] if isinstance(c, dict))
        for value in obj.values():
            yield from _containers(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _containers(value)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer_paths(pointer: str) -> tuple[str, ...]:
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:])


def ignored_paths(app: Application, obj: dict) -> set[tuple[str, ...]]:
    """diffing.md (Application Level Configuration): an entry matches by `group` and `kind`
    ("*" for any), narrowed by `name` and optional `namespace`; `jsonPointers` name the fields.
    jqPathExpressions and managedFieldsManagers are not modelled."""
    ref = ref_of(app.cluster, obj)
    out: set[tuple[str, ...]] = set()
    for entry in app.spec.get("ignoreDifferences") or []:
        if entry.get("jqPathExpressions") or entry.get("managedFieldsManagers"):
            raise NotModelled("ignoreDifferences by jq path or field manager")
        if entry.get("group", "") not in ("*", ref.group) or entry.get("kind") not in ("*", ref.kind):
            continue
        if entry.get("name") and entry["name"] != ref.name:
            continue
        if entry.get("namespace") and entry["namespace"] != ref.namespace:
            continue
        out.update(_pointer_paths(p) for p in entry.get("jsonPointers") or [])
    return out


def _drop(obj: Any, path: tuple[str, ...]) -> Any:
    if not path or not isinstance(obj, dict) or path[0] not in obj:
        return obj
    out = dict(obj)
    if len(path) == 1:
        del out[path[0]]
    else:
        out[path[0]] = _drop(out[path[0]], path[1:])
    return out


def _leaf_paths(obj: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            yield from _leaf_paths(value, (*prefix, key))
    else:
        yield prefix


def run_time_changes(apps: list[Application]) -> list[Outcome]:
    """Run every scale-runtime container of the tree with the agent's own code, apply the
    merge patch it sends to the live object it names, and follow Argo CD:

    - diffing.md: fields matched by ignoreDifferences do not count in the comparison;
    - auto_sync.md: with `selfHeal`, a live object that differs from Git is synced back;
    - sync-options.md (Respect ignore differences configs): "By default, Argo CD uses the
      `ignoreDifferences` config just for computing the diff ... during the sync stage, the
      desired state is applied as-is" (so the next sync, caused by any Git change in the
      Application, writes the Git value back); with `RespectIgnoreDifferences=true` the
      ignored fields of a resource that exists keep their live values (controller/sync.go
      normalizeTargetResources).

    Also reports ignored fields that no run-time writer changes (FROZEN)."""
    out: list[Outcome] = []
    owner = {ref: app for app in apps for ref in app.objects}
    changed: dict[Ref, set[tuple[str, ...]]] = defaultdict(set)
    for app in apps:
        for obj in app.objects.values():
            for container in _containers(obj):
                args = container.get("args") or []
                if not args or args[0] != contract.SCALE_RUNTIME:
                    continue
                parsed = contract.parse(args)
                client = _RecordingClient()
                code = scale(client, parsed.namespace, parsed.target, parsed.replicas, 1.0,  # type: ignore[arg-type]
                             out=io.StringIO())
                assert code == 0, f"the agent refused {args}"
                for api_path, patch in client.patches:
                    target = _object_at(apps, app.cluster, api_path)
                    if target is None:
                        out.append(Outcome("scaler runs", Ref(app.cluster, "?", "?", "?", api_path), "target missing",
                                           "the scaler patches an object no Application has"))
                        continue
                    for leaf in _leaf_paths(patch):
                        changed[target].add(leaf)
    for target, paths in sorted(changed.items()):
        app = owner[target]
        desired = app.objects[target]
        ignored = ignored_paths(app, desired)
        for path in sorted(paths):
            dotted = ".".join(path)
            if path not in ignored:
                fate = REVERTED_SELF_HEAL if (app.automated or {}).get("selfHeal") else REVERTED_NEXT_SYNC
                why = f"{dotted} differs from Git and is not in ignoreDifferences ({DIFFING_DOC}, {AUTO_SYNC_DOC})"
            elif not app.respects_ignore_differences(desired):
                fate, why = REVERTED_NEXT_SYNC, (f"{dotted} is ignored in the diff but applied as-is by a sync "
                                                 f"without RespectIgnoreDifferences=true ({SYNC_OPTIONS_DOC})")
            else:
                fate, why = KEPT, f"{dotted}: ignoreDifferences + RespectIgnoreDifferences=true ({SYNC_OPTIONS_DOC})"
            out.append(Outcome("scaler runs", target, fate, why))
    for app in apps:
        for ref, obj in sorted(app.objects.items()):
            for field_path in sorted(ignored_paths(app, obj) - changed.get(ref, set())):
                if _has(obj, field_path):
                    out.append(Outcome("ignored field", ref, FROZEN, f"{'.'.join(field_path)} ({SYNC_OPTIONS_DOC})"))
    return out


def _has(obj: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return False
        obj = obj[key]
    return True


def _object_at(apps: list[Application], cluster: str, path: str) -> Ref | None:
    """The object an API path names on a cluster: /apis/<group>/<version>/namespaces/<ns>/<plural>/<name>
    (plural: the lower-case kind + "s", as Fluid's runtimes are named)."""
    parts = path.strip("/").split("/")
    if len(parts) != 7 or parts[0] != "apis" or parts[3] != "namespaces":
        raise NotModelled(f"API path {path}")
    group, namespace, plural, name = parts[1], parts[4], parts[5], parts[6]
    for app in apps:
        for ref in app.objects:
            if (ref.cluster, ref.group, ref.namespace, ref.name) == (cluster, group, namespace, name) \
                    and ref.kind.lower() + "s" == plural:
                return ref
    return None


# -- run-to-completion jobs ---------------------------------------------------------------------
VOLCANO_TTL = (f"{VOLCANO}:staging/src/volcano.sh/apis/pkg/apis/batch/v1alpha1/job.go (ttlSecondsAfterFinished: "
               "\"ttlSecondsAfterFinished after the Job finishes, it is eligible to be automatically deleted\"), "
               "pkg/controllers/garbagecollector/garbagecollector.go")
JOBFLOW = (f"{VOLCANO}:pkg/controllers/jobflow/jobflow_controller_action.go (deployJob creates each flow's job "
           "from the JobTemplate named like the flow when it is not found), state/succeed.go (a succeeded flow "
           "still syncs)")
MISSING_IS_OUT_OF_SYNC = (f"{ARGO}:controller/state.go (\"target resource present but live resource is missing\" "
                          f"is OutOfSync); {AUTO_SYNC_DOC}")


def job_reruns(apps: list[Application]) -> list[Outcome]:
    """A Volcano Job delivered from Git, or a step of a JobFlow delivered from Git, finishes.

    - Volcano deletes a finished Job whose spec has ttlSecondsAfterFinished (VOLCANO_TTL).
    - A Job in Git and missing live is OutOfSync; the automated sync creates it, at once with
      `selfHeal` (auto_sync.md), so it runs again (MISSING_IS_OUT_OF_SYNC).
    - The JobFlow controller creates the job of every flow whose job is missing (and whose
      dependencies completed) each time it syncs the flow, succeeded or not (JOBFLOW).
    Every Job and JobFlow delivered from Git also gets RERUN_BY_HAND when self-heal is on:
    deleting it by hand is a difference from Git that self-heal repairs."""
    out: list[Outcome] = []
    templates = {(ref.cluster, ref.namespace, ref.name): obj for app in apps for ref, obj in app.objects.items()
                 if (ref.group, ref.kind) == ("flow.volcano.sh", "JobTemplate")}
    for app in apps:
        auto = app.automated
        for ref, obj in sorted(app.objects.items()):
            if (ref.group, ref.kind) == ("batch.volcano.sh", "Job"):
                if TTL in (obj.get("spec") or {}) and auto is not None:
                    out.append(Outcome("job finishes", ref, RERUN_ARGO, f"{VOLCANO_TTL}; {MISSING_IS_OUT_OF_SYNC}"))
                else:
                    out.append(Outcome("job finishes", ref, KEPT, "no ttlSecondsAfterFinished: Volcano keeps it"))
            if (ref.group, ref.kind) == ("flow.volcano.sh", "JobFlow"):
                for flow in (obj.get("spec") or {}).get("flows") or []:
                    template = templates.get((ref.cluster, ref.namespace, flow["name"]))
                    step = Ref(ref.cluster, "batch.volcano.sh", "Job", ref.namespace, f"{ref.name}-{flow['name']}")
                    if template is not None and TTL in (template.get("spec") or {}):
                        out.append(Outcome("job finishes", step, RERUN_FLOW, f"{VOLCANO_TTL}; {JOBFLOW}"))
                    else:
                        out.append(Outcome("job finishes", step, KEPT, "no ttlSecondsAfterFinished: Volcano keeps it"))
            if (ref.group, ref.kind) in {("batch.volcano.sh", "Job"), ("flow.volcano.sh", "JobFlow")} \
                    and auto is not None and auto.get("selfHeal"):
                out.append(Outcome("job deleted by hand", ref, RERUN_BY_HAND, MISSING_IS_OUT_OF_SYNC))
    return out


# -- the whole oracle -------------------------------------------------------------------------
def play(tree: dict[str, dict]) -> list[Outcome]:
    """Every scenario over a rendered/ tree ('cluster/unit/file' and '_argocd/file' -> object)."""
    apps = applications(tree)
    if not apps:
        raise NotModelled("no ApplicationSet in the tree")
    return (removed_from_git(apps) + application_deleted(apps) + application_deleted(apps, by_hand=True)
            + run_time_changes(apps) + job_reruns(apps))


def read_tree(rendered: Path) -> dict[str, dict]:
    """A rendered/ folder as Argo CD's repo server would read it: every YAML file."""
    return {str(p.relative_to(rendered)): yaml_io.load(p.read_bytes())
            for p in sorted(rendered.rglob("*.yaml")) if not p.name.startswith(".")}


def summary(outcomes: list[Outcome]) -> dict[tuple[str, str, str], int]:
    """(scenario, kind, fate) -> count."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for o in outcomes:
        counts[(o.scenario, o.ref.kind, o.fate)] += 1
    return dict(sorted(counts.items()))


if __name__ == "__main__":  # python tests/delivery/delivery_oracle.py [rendered/]
    import sys

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "rendered")
    for (scenario, kind, fate), n in summary(play(read_tree(folder))).items():
        print(f"{n:5d}  {scenario:40s} {kind:22s} {fate}")
