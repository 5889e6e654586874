"""Guardrails: the platform's rules, enforced at admission by the API server itself.

One definition per rule serves both sides: `compiler.guardrails.rules` holds what each rule
allows (a registry prefix that ends at a path boundary, an ingress host pattern, the
parameters a tenant gets) as Python functions the compiler calls, and
`compiler.guardrails.cel` turns the same rules into the CEL of ValidatingAdmissionPolicies
(admissionregistration.k8s.io/v1), with a Python twin of every validation that produces the
same verdict and the same message. Tests run one table of cases through both: the Python
twin offline, the CEL on a real API server.

Where things land (see docs/guardrails.md):
  - rendered/<cluster>/_platform/: one ValidatingAdmissionPolicy and one binding per object
    shape (pods, pod templates, Volcano jobs, ...), the same for every tenant; cluster facts
    (GPU pools with their labels and taints) are constants in the CEL.
  - rendered/<cluster>/<tenant>/configmap-tenantc-guardrails.yaml: the tenant's parameters
    (allowed registries, queues, priority and storage classes, ingress classes and hosts, GPU
    pools, dataset mounts), read by the bindings from the namespace of the object admitted.
"""
from __future__ import annotations

from compiler.guardrails.rules import (
    PARAMS_NAME,
    RULES,
    HostPatternError,
    RegistryError,
    host_allowed,
    host_pattern,
    image_allowed,
    registry_prefix,
)

__all__ = ["PARAMS_NAME", "RULES", "HostPatternError", "RegistryError", "host_allowed", "host_pattern",
           "image_allowed", "registry_prefix"]
