"""Pieces every workload shares: labels, the restricted security context, rollout hashes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ._bulk import Manifest
from ._types import Resources

PART_OF = "journal"
CONFIG_HASH_ANNOTATION = "journal.example.com/config-hash"
"""The pod-template annotation holding ``content_hash`` of the workload's ConfigMap data,
so that a configuration change rolls the pods."""


def selector_labels(name: str) -> dict[str, str]:
    """The labels that select a workload's pods: stable, explicit, no construct-path hash."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def object_labels(name: str, component: str) -> dict[str, str]:
    """The labels every object of a workload carries."""
    return {
        **selector_labels(name),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "cdk8s",
    }


def content_hash(files: Mapping[str, str]) -> str:
    """A short digest of configuration files; a change of any file changes it."""
    digest = hashlib.sha256()
    for file_name in sorted(files):
        digest.update(file_name.encode() + b"\0" + files[file_name].encode() + b"\0")
    return digest.hexdigest()[:16]


def pod_security(*, uid: int, gid: int) -> dict[str, Any]:
    """The pod-level context of the Pod Security Standard ``restricted``."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": gid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_spec(
    name: str,
    *,
    uid: int,
    gid: int,
    containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
) -> dict[str, Any]:
    """A pod spec of workload ``name``: no API token, no service links, ``restricted``, spread."""
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(uid=uid, gid=gid),
        "topologySpreadConstraints": spread_over_nodes(name),
        "containers": containers,
        "volumes": volumes,
    }


def container_security() -> dict[str, Any]:
    """The container-level context of ``restricted``, with a read-only root filesystem."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def guaranteed(resources: Resources) -> dict[str, Any]:
    """Requests equal to limits, as the chapter asks (``requests``, never ``request``)."""
    amounts = {"cpu": resources.cpu, "memory": resources.memory}
    return {"requests": amounts, "limits": dict(amounts)}


def spread_over_nodes(name: str) -> list[dict[str, Any]]:
    """A soft spread of a workload's pods over nodes."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector_labels(name)},
        }
    ]


def disruption_budget(name: str, component: str) -> Manifest:
    """A PodDisruptionBudget that lets at most one pod of the workload go at a time.

    With a single replica it still allows the eviction (a drain must not hang); it then
    only documents the intent.
    """
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "labels": object_labels(name, component)},
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(name)},
            # A pod that is not ready (a replica resyncing) must not block a node drain.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def http_probe(path: str, port_name: str, *, period: int, failures: int) -> dict[str, Any]:
    """An HTTP GET probe on a named container port."""
    return {
        "httpGet": {"path": path, "port": port_name},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def rolling_update() -> dict[str, Any]:
    """Replace pods one at a time, starting the new pod before stopping an old one."""
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def service(
    *,
    name: str,
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    port_name: str,
    port_number: int,
    headless: bool = False,
) -> Manifest:
    """A ClusterIP Service (or a headless one) to the named container port of ``selector``."""
    spec: dict[str, Any] = {
        "type": "ClusterIP",
        "selector": dict(selector),
        "ports": [
            {"name": port_name, "port": port_number, "targetPort": port_name, "protocol": "TCP"}
        ],
    }
    if headless:
        spec |= {"clusterIP": "None", "publishNotReadyAddresses": True}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": spec,
    }
