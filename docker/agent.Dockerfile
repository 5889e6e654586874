# tenantc-agent: the runtime agent in every job pod (native sidecar, dataset gate, cache scaler).
#
# In a pod the agent needs only the Python standard library (PyYAML is used solely to read a
# --kubeconfig outside a cluster), so the image is a slim Python plus two folders of source,
# not the whole tenantc package with its dependencies. Build from the repository root:
#
#   docker build -f docker/agent.Dockerfile -t tenantc-agent:0.1.0 .
#
# Pods run it with a read-only root filesystem as a non-root user; byte code is compiled at
# build time so nothing is written at start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/opt/tenantc

WORKDIR /opt/tenantc
COPY compiler/__init__.py compiler/__init__.py
COPY compiler/agent/ compiler/agent/
RUN python -m compileall -q compiler \
 && printf '#!/usr/local/bin/python\nimport sys\nfrom compiler.agent.main import main\nsys.exit(main())\n' \
      > /usr/local/bin/tenantc-agent \
 && chmod 0755 /usr/local/bin/tenantc-agent

USER 65532:65532
ENTRYPOINT ["tenantc-agent"]
CMD ["sidecar"]
