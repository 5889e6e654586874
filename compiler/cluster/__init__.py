"""The real local control plane behind `tenantc cluster` and the test fixtures.

etcd, kube-apiserver and kube-controller-manager, built from the official Go modules,
run as plain processes under one state directory: real admission, RBAC, CRD schemas,
quota and namespace finalization, without containers or a kubelet (pods are stored,
never run). Opt-in (`scheduler=True`): the real kube-scheduler places pods on Nodes the
caller creates, which kwok keeps Ready (their pods go Running). Several state directories
run side by side for multi-cluster work.
"""
from compiler.cluster.binaries import BinariesUnavailable, find_binaries, find_kwok
from compiler.cluster.components import (
    APISERVER,
    CONTROLLER_MANAGER,
    ETCD,
    KWOK,
    KWOK_NODE_ANNOTATION,
    SCHEDULER,
)
from compiler.cluster.controlplane import ControlPlane
from compiler.cluster.errors import ClusterError, ComponentError
from compiler.cluster.kubeconfig import build_kubeconfig, token_user, write_kubeconfig

__all__ = [
    "APISERVER", "CONTROLLER_MANAGER", "ETCD", "KWOK", "KWOK_NODE_ANNOTATION", "SCHEDULER",
    "BinariesUnavailable", "ClusterError", "ComponentError", "ControlPlane",
    "build_kubeconfig", "find_binaries", "find_kwok", "token_user", "write_kubeconfig",
]
