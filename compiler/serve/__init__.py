"""`tenantc server`: a warm process that runs compile, check and review for the command line.

Half of a one-tenant edit's 0.6 s is Python importing tenantc (pydantic building 68 models,
PyYAML, 64 dataclasses): the same work in every process. A server started once
(`tenantc server start`, opt-in, as `dmypy start` or Gradle's daemon) imports it all and then
forks a child per command: the child takes the client's argv, working folder, environment,
umask and its stdin, stdout and stderr (passed as file descriptors), runs the very `main()`
a cold process runs, and reports the exit code. No child's state reaches the server. What
the server keeps is its own: after a command succeeds, while no other waits, it plans that
repository once more and keeps its models and plan (compiler.warm), so the next child
validates and plans only the YAML files whose bytes changed; warming gives way to any client
that connects (a 5 ms timer looks), and the result is exactly a cold compile's.

    tenantc compile ──connect──> server (imports done) ──fork──> child: main(argv) on the
        (client, ~20 ms)          refuses: other user,           client's terminal, exit code
         falls back to a          other interpreter, its              back to the client
         cold run when no         code changed on disk
         server answers

The client side (compiler.serve.client) imports nothing of the compiler; the contract
between the two (socket place, messages) is compiler.serve.protocol.
"""
