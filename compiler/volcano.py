"""Facts about Volcano that model, plan and render share (as compiler/fluid.py for Fluid).

Job lifecycle policies (`spec.policies`, `spec.tasks[].policies`): an event and the action
Volcano's job controller takes when it happens. The events are the Job CRD's own enum
(volcano-sh/volcano config/crd/volcano/bases/batch.volcano.sh_jobs.yaml, `policies.items.event`;
tests/unit/test_job_pods.py compares them with the CRD in ../shared/crds). The CRD leaves
`action` a free string; the actions a job policy may take are those of volcano-sh/apis
pkg/apis/bus/v1alpha1/actions.go that the job controller acts on in a policy
(docs/user-guide/how_to_configure_job_policy.md: AbortJob, RestartJob, RestartTask,
TerminateJob, CompleteJob); the others there (SyncJob, EnqueueJob, queue actions...) are
internal.
"""
from __future__ import annotations

POLICY_EVENTS = ("*", "PodPending", "PodRunning", "PodFailed", "PodEvicted", "Unknown", "TaskCompleted",
                 "OutOfSync", "CommandIssued", "JobUpdated", "TaskFailed")
POLICY_ACTIONS = ("AbortJob", "RestartJob", "RestartTask", "TerminateJob", "CompleteJob")

# The default every tenantc job gets: a preempted or evicted pod restarts the whole gang
# (a half-gang makes no progress). A job's own policies replace it.
DEFAULT_POLICIES = ({"event": "PodEvicted", "action": "RestartJob"},)

# Pods Volcano's preempt and reclaim actions may evict for higher-priority or other queues'
# work carry this annotation "true" (and those that must not, "false"): volcano-sh/volcano
# pkg/scheduler/api/job_info.go reads `volcano.sh/preemptable` from the pod's annotations
# (or labels) into TaskInfo.Preemptable.
PREEMPTABLE_ANNOTATION = "volcano.sh/preemptable"
