"""The one layer that talks to API servers, for the CLI, review, status and `tenantc cluster`.

    errors     KubeError and its tree (drawn at the top of the module)
    transport  how requests travel: the `kubernetes` package's urllib3 pool for kubeconfig
               contexts, or http.client for an Endpoint (server URL, CA, client certificate)
    client     KubeClient: JSON verbs, watch, retries (compiler.agent.retry), request counts
    config     kubeconfig contexts -> target clusters -> a connected client
    discovery  which kinds a cluster serves, and their paths

The agent (compiler/agent) keeps its own import-free client on purpose; the retry policy is
the one both share. Importing this package imports neither `kubernetes` nor urllib3: only
config.connect/read_kubeconfig and PoolTransport do, when called.
"""
