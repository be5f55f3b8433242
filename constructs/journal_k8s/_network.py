"""NetworkPolicies built from relations between workloads, never from strings."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from constructs import Construct

from ._bulk import int_or_string
from ._kplus import k8s
from ._pod import metadata
from ._types import check_dns_subdomain

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""The label Kubernetes gives every Namespace: its name (immutable)."""


@dataclass(frozen=True)
class Pods:
    """Pods a policy can name: their selector, their namespace and the construct they belong to.

    ``namespace`` is ``None`` when the construct's chart sets none (the objects then land in
    whatever namespace they are applied to).
    """

    name: str
    scope: Construct
    namespace: str | None
    match_labels: Mapping[str, str]
    match_expressions: Sequence[Mapping[str, Any]] = field(default=())

    @property
    def key(self) -> str:
        """Identifies the pods: their namespace and selector."""
        return repr((self.namespace, sorted(self.match_labels.items()), self.match_expressions))

    def selector(self) -> k8s.LabelSelector:
        """The label selector of the pods."""
        expressions = [
            k8s.LabelSelectorRequirement(
                key=e["key"], operator=e["operator"], values=e.get("values")
            )
            for e in self.match_expressions
        ]
        # An empty map or list is left out, as the API server stores the selector of all pods.
        return k8s.LabelSelector(
            match_labels=dict(self.match_labels) or None, match_expressions=expressions or None
        )

    def name_seen_from(self, other: Pods) -> str:
        """Its name, with its namespace in front when ``other``'s differs: two same-named
        workloads of two namespaces are two peers (their policies and ids must differ)."""
        if self.namespace == other.namespace or self.namespace is None:
            return self.name
        return f"{self.namespace}-{self.name}"

    def peer(self, seen_from: Pods) -> k8s.NetworkPolicyPeer:
        """A policy peer matching exactly these pods, in a policy of ``seen_from``'s namespace.

        Raises:
            ValueError: the two namespaces differ and one of them is unknown.
        """
        if self.namespace == seen_from.namespace:
            return k8s.NetworkPolicyPeer(pod_selector=self.selector())
        for pods in (self, seen_from):
            if pods.namespace is None:
                raise ValueError(
                    f"{pods.scope.node.path} has no namespace (its chart sets none) while "
                    f"{(seen_from if pods is self else self).scope.node.path} is in namespace "
                    f"{(seen_from if pods is self else self).namespace!r}: a NetworkPolicy "
                    "cannot name pods across namespaces without both names; give the chart "
                    "a namespace"
                )
        return k8s.NetworkPolicyPeer(
            pod_selector=self.selector(), namespace_selector=in_namespace(self.namespace)
        )


def in_namespace(namespace: str | None) -> k8s.LabelSelector:
    """Selects the Namespace ``namespace`` by its immutable name label."""
    return k8s.LabelSelector(match_labels={NAMESPACE_NAME_LABEL: namespace or ""})


def object_name(text: str) -> str:
    """``text`` as a DNS-1123 label fragment (for names made from other names)."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "pods"


def dns() -> k8s.NetworkPolicyEgressRule:
    """Egress to the cluster DNS (``k8s-app: kube-dns`` in ``kube-system``) on port 53."""
    return k8s.NetworkPolicyEgressRule(
        to=[
            k8s.NetworkPolicyPeer(
                namespace_selector=in_namespace("kube-system"),
                pod_selector=k8s.LabelSelector(match_labels={"k8s-app": "kube-dns"}),
            )
        ],
        ports=[
            k8s.NetworkPolicyPort(protocol=protocol, port=int_or_string(53))
            for protocol in ("UDP", "TCP")
        ],
    )


def tcp(port: int | str) -> list[k8s.NetworkPolicyPort]:
    """One TCP port, as a NetworkPolicy port list."""
    return [k8s.NetworkPolicyPort(protocol="TCP", port=int_or_string(port))]


def allow(
    *,
    direction: Literal["Ingress", "Egress"],
    name: str,
    pods: k8s.LabelSelector,
    peers: list[k8s.NetworkPolicyPeer],
    port: int | str,
    labels: Mapping[str, str],
) -> k8s.KubeNetworkPolicyProps:
    """Allow traffic on TCP ``port`` (a number or a port name) between ``pods`` and ``peers``.

    ``Ingress`` lets the peers in to the pods; ``Egress`` lets the pods out to the peers,
    and to the cluster DNS, since an egress policy would otherwise cut name resolution.
    """
    if direction == "Ingress":
        spec = k8s.NetworkPolicySpec(
            pod_selector=pods,
            policy_types=[direction],
            ingress=[k8s.NetworkPolicyIngressRule(from_=peers, ports=tcp(port))],
        )
    else:
        spec = k8s.NetworkPolicySpec(
            pod_selector=pods,
            policy_types=[direction],
            egress=[k8s.NetworkPolicyEgressRule(to=peers, ports=tcp(port)), dns()],
        )
    return k8s.KubeNetworkPolicyProps(metadata=metadata(name, labels), spec=spec)


def connection(
    *,
    server: Pods,
    client: Pods,
    port: int,
    labels: Mapping[str, str],
    names: tuple[str, str] | None = None,
) -> tuple[k8s.KubeNetworkPolicyProps, k8s.KubeNetworkPolicyProps]:
    """The two policies that let ``client``'s pods reach ``server``'s on TCP ``port``.

    The server's ingress and the client's egress, each naming the other side's namespace where
    it differs. ``names`` default to ``<server>-from-<client>`` and ``<client>-to-<server>``,
    the other side's name prefixed with its namespace where it differs.
    """
    ingress, egress = names or (
        f"{server.name}-from-{client.name_seen_from(server)}",
        f"{client.name}-to-{server.name_seen_from(client)}",
    )
    for name in (ingress, egress):
        check_dns_subdomain("the NetworkPolicy name", name)

    def side(
        direction: Literal["Ingress", "Egress"], name: str, pods: Pods, peer: Pods
    ) -> k8s.KubeNetworkPolicyProps:
        selector, peers = pods.selector(), [peer.peer(seen_from=pods)]
        return allow(
            direction=direction, name=name, pods=selector, peers=peers, port=port, labels=labels
        )

    return side("Ingress", ingress, server, client), side("Egress", egress, client, server)
