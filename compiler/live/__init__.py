"""Cluster I/O: read live state, diff, apply, prune and report status on real clusters.

The commands `tenantc diff|apply|status` are thin layers over this package; tests call it
directly. The flow of `diff` and `apply` is the same up to the last step:

    access   which clusters, through which kubeconfig context
    desired  rendered/ must be what tenants/ compiles to (else exit 2)
    resources  one discovery request per API root: kind -> resource path
    read     one LIST per kind, selected by tenantc's managed-by label
    normalize/plan  decide locally which objects cannot have changed; confirm the rest
             with a server-side dry-run apply (the API server has the last word)
    prune    a pure decision: what tenantc owns live but rendered/ no longer has
    apply    server-side apply in stages, parallel within a stage, only what changed

Nothing here shells out to kubectl; the official kubectl is only a test oracle.
"""
