"""NetworkPolicies built from relations between workloads, never from strings."""

from __future__ import annotations

from collections.abc import Mapping

from cdk8s_plus_27 import k8s
from constructs import Construct

from . import _pod
from ._types import Workload


def pods_of(workload: Workload) -> k8s.NetworkPolicyPeer:
    """A peer that matches exactly the pods of ``workload`` in the same namespace."""
    return k8s.NetworkPolicyPeer(
        pod_selector=k8s.LabelSelector(match_labels=dict(workload.pod_labels))
    )


def pods_in_namespace(namespace: str) -> k8s.NetworkPolicyPeer:
    """A peer that matches every pod of another namespace, chosen by its immutable name label."""
    return k8s.NetworkPolicyPeer(
        namespace_selector=k8s.LabelSelector(
            match_labels={"kubernetes.io/metadata.name": namespace}
        )
    )


def tcp(port: int) -> list[k8s.NetworkPolicyPort]:
    """One TCP port, as a NetworkPolicy port list."""
    return [k8s.NetworkPolicyPort(protocol="TCP", port=_pod.port(port))]


def allow_ingress(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    pods: Mapping[str, str],
    peers: list[k8s.NetworkPolicyPeer],
    port: int,
    labels: Mapping[str, str],
) -> k8s.KubeNetworkPolicy:
    """Allow ``peers`` to reach the pods labelled ``pods`` on TCP ``port``."""
    return k8s.KubeNetworkPolicy(
        scope,
        construct_id,
        metadata=k8s.ObjectMeta(name=name, labels=dict(labels)),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=dict(pods)),
            policy_types=["Ingress"],
            ingress=[k8s.NetworkPolicyIngressRule(from_=peers, ports=tcp(port))],
        ),
    )


def allow_egress(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    pods: Mapping[str, str],
    peers: list[k8s.NetworkPolicyPeer],
    port: int,
    labels: Mapping[str, str],
) -> k8s.KubeNetworkPolicy:
    """Allow the pods labelled ``pods`` to reach ``peers`` on TCP ``port``."""
    return k8s.KubeNetworkPolicy(
        scope,
        construct_id,
        metadata=k8s.ObjectMeta(name=name, labels=dict(labels)),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=dict(pods)),
            policy_types=["Egress"],
            egress=[k8s.NetworkPolicyEgressRule(to=peers, ports=tcp(port))],
        ),
    )
