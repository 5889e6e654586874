"""The API permissions each agent command really uses, as RBAC PolicyRules.

Single source of truth: the compiler renders the agent's Role from this table, and the live
test compares it with the API server's audit log of what the agent did, so a verb the code
needs but the Role lacks, or one the Role grants but the code never uses, fails the test.
Keep this module plain data and import-free (the compiler and the agent both read it).

Why these verbs:
* sidecar: reads its Lease once (get), creates it when missing (create), then renews it
  (update); writes its status key by server-side apply, a PATCH request (patch) which, when
  the ConfigMap does not exist yet, the API server also authorizes as `create`: without it
  the first pod of a job gets 403 "cannot create resource configmaps" (the audit log records
  that request as verb patch with response code 201, or the 403 with that message); reads
  its own Pod for the main container's exit state (get).
* wait-dataset: polls Datasets with GET.
* scale-runtime: one JSON merge patch, no read first.
* run-flow: lists the runs (JobFlows) of its pipeline by label (list), creates the new run
  (create) and deletes unfinished runs under Replace and finished runs beyond the history
  limits (delete). Never get, update or patch: a run, once created, is Volcano's.
"""

FLUID_RUNTIMES = ["alluxioruntimes", "jindoruntimes", "juicefsruntimes", "thinruntimes"]

AGENT_PERMISSIONS = {
    "sidecar": [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "update"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    ],
    "wait-dataset": [
        {"apiGroups": ["data.fluid.io"], "resources": ["datasets"], "verbs": ["get"]},
    ],
    "scale-runtime": [
        {"apiGroups": ["data.fluid.io"], "resources": FLUID_RUNTIMES, "verbs": ["patch"]},
    ],
    "run-flow": [
        {"apiGroups": ["flow.volcano.sh"], "resources": ["jobflows"], "verbs": ["create", "delete", "list"]},
    ],
}


def rules_for(*commands):
    """Fresh copies of the rules of `commands` (all commands when none is named), in a
    stable order, ready to put in a Role's `rules`. Unknown names raise KeyError."""
    names = commands or tuple(AGENT_PERMISSIONS)
    return [
        {key: list(values) for key, values in rule.items()}
        for name in names
        for rule in AGENT_PERMISSIONS[name]
    ]


def permission_set(rules):
    """{(apiGroup, resource, verb)} granted by `rules`: the unit the audit log is compared in."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
