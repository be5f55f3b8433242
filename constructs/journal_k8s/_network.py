"""NetworkPolicies built from relations between workloads, never from strings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ._bulk import Manifest
from ._types import Workload


def pods_of(workload: Workload) -> dict[str, Any]:
    """A peer that matches exactly the pods of ``workload`` in the same namespace."""
    return {"podSelector": {"matchLabels": dict(workload.pod_labels)}}


def pods_in_namespace(namespace: str) -> dict[str, Any]:
    """A peer that matches every pod of another namespace, chosen by its immutable name label."""
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def dns() -> dict[str, Any]:
    """Egress to the cluster DNS (``k8s-app: kube-dns`` in ``kube-system``) on port 53."""
    return {
        "to": [
            {
                **pods_in_namespace("kube-system"),
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")],
    }


def tcp(port: int) -> list[dict[str, Any]]:
    """One TCP port, as a NetworkPolicy port list."""
    return [{"protocol": "TCP", "port": port}]


def allow(
    *,
    direction: Literal["Ingress", "Egress"],
    name: str,
    pods: Mapping[str, str],
    peers: list[dict[str, Any]],
    port: int,
    labels: Mapping[str, str],
) -> Manifest:
    """Allow traffic on TCP ``port`` between the pods labelled ``pods`` and ``peers``.

    ``Ingress`` lets the peers in to the pods; ``Egress`` lets the pods out to the peers,
    and to the cluster DNS, since an egress policy would otherwise cut name resolution.
    """
    if direction == "Ingress":
        rules: dict[str, Any] = {"ingress": [{"from": peers, "ports": tcp(port)}]}
    else:
        rules = {"egress": [{"to": peers, "ports": tcp(port)}, dns()]}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {"podSelector": {"matchLabels": dict(pods)}, "policyTypes": [direction], **rules},
    }
