"""tenantc-agent: the small runtime agent that runs beside every job pod.

It must start fast and stay small (a native sidecar in every pod), so this package imports
nothing from the rest of `compiler` and nothing outside the standard library except PyYAML,
loaded lazily and only to read a kubeconfig outside a pod. Keep this module import-free.

Modules: `main` (argparse entry), `contract` (its command line and labels, shared with the
compiler), `kubeapi` (HTTPS API client, credentials), `retry` (the retry policy, which
compiler.kube's client shares), `sidecar`, `wait_dataset`, `scale_runtime`, `run_flow` (the
commands) and `permissions` (the RBAC rules each command needs, which the compiler renders
into the agent's Role).
"""
