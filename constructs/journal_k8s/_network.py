"""NetworkPolicies built from relations between workloads, never from strings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

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


def dns() -> k8s.NetworkPolicyEgressRule:
    """Egress to the cluster DNS (``k8s-app: kube-dns`` in ``kube-system``) on port 53."""
    return k8s.NetworkPolicyEgressRule(
        to=[
            k8s.NetworkPolicyPeer(
                namespace_selector=k8s.LabelSelector(
                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                ),
                pod_selector=k8s.LabelSelector(match_labels={"k8s-app": "kube-dns"}),
            )
        ],
        ports=[
            k8s.NetworkPolicyPort(protocol=protocol, port=_pod.port(53))
            for protocol in ("UDP", "TCP")
        ],
    )


def tcp(port: int) -> list[k8s.NetworkPolicyPort]:
    """One TCP port, as a NetworkPolicy port list."""
    return [k8s.NetworkPolicyPort(protocol="TCP", port=_pod.port(port))]


def allow(
    scope: Construct,
    construct_id: str,
    *,
    direction: Literal["Ingress", "Egress"],
    name: str,
    pods: Mapping[str, str],
    peers: list[k8s.NetworkPolicyPeer],
    port: int,
    labels: Mapping[str, str],
) -> k8s.KubeNetworkPolicy:
    """Allow traffic on TCP ``port`` between the pods labelled ``pods`` and ``peers``.

    ``Ingress`` lets the peers in to the pods; ``Egress`` lets the pods out to the peers,
    and to the cluster DNS, since an egress policy would otherwise cut name resolution.
    """
    inbound = direction == "Ingress"
    return k8s.KubeNetworkPolicy(
        scope,
        construct_id,
        metadata=k8s.ObjectMeta(name=name, labels=dict(labels)),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=dict(pods)),
            policy_types=[direction],
            ingress=[k8s.NetworkPolicyIngressRule(from_=peers, ports=tcp(port))]
            if inbound
            else None,
            egress=None
            if inbound
            else [k8s.NetworkPolicyEgressRule(to=peers, ports=tcp(port)), dns()],
        ),
    )
