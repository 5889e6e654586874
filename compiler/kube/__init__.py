"""The one layer that talks to API servers, for the CLI, review, status and `tenantc cluster`.

    errors       KubeError and its tree (drawn at the top of the module)
    transport    how requests travel: http.client from an Endpoint (server, TLS, proxy) and
                 Credentials, one kept-alive connection per thread
    kubeconfig   kubeconfig files read and merged as kubectl does; one context resolved
    credentials  a kubeconfig user as Credentials: token, tokenFile, exec plugins, client
                 certificates, basic auth (never anonymous; docs/credentials.md)
    client       KubeClient: JSON verbs, watch, retries (compiler.agent.retry), request counts
    config       kubeconfig contexts -> target clusters -> a connected client
    discovery    which kinds a cluster serves, and their paths

The agent (compiler/agent) keeps its own import-free client on purpose; the retry policy is
the one both share. Nothing here imports the `kubernetes` package or urllib3.
"""
