"""Delivery: diff, apply, prune and status of rendered/ on live clusters.

`workflow` is the library's entry: diff(DiffOptions), apply(ApplyOptions), status(StatusOptions)
(options.py) return result objects; the commands `tenantc diff|apply|status` only map flags
onto those options and results onto output. The flow of diff and apply is the same up to
the last step:

    desired    rendered/ must be what tenants/ compiles to (else exit 2)
    targets    which clusters, through which kubeconfig context (compiler.kube.config)
    discovery  one request per API root: kind -> resource path (compiler.kube.discovery)
    read       one LIST per kind, selected by tenantc's managed-by label
    changeset  decide locally which objects cannot have changed (normalize); confirm the
               rest with a server-side dry-run apply (the API server has the last word)
    prune      a pure decision: what tenantc owns live but rendered/ no longer has
    apply      server-side apply in stages, parallel within a stage, only what changed;
               then prune and wait
    report     JSON documents (a stable schema) and their text, Markdown and GitHub forms

Every request goes through compiler.kube. Nothing here shells out to kubectl (the official
kubectl is only a test oracle) or knows about argparse.
"""
