"""tenantc: compile per-tenant specs into validated Kubernetes, Volcano and Fluid manifests.

The pipeline is visible in the package layout:

    load -> model -> plan -> render -> validate -> write      (compiler.pipeline ties it)

and, separately, cluster I/O (compiler.live, compiler.cluster) and the in-pod agent
(compiler.agent, which imports nothing of the rest). Keep this module import-free so the
agent starts fast.
"""

__version__ = "0.1.0"
