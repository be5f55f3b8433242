"""Which pods a label selector picks: the one evaluator that checks, diagrams and tests share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from journal_k8s._selectors import selects

__all__ = ["POD_INDEX_LABEL", "POD_NAME_LABEL", "pod_labels", "selects", "selects_any"]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
"""Labels the StatefulSet controller adds to each pod, so a Service may select one pod."""


def pod_labels(workload: Mapping[str, Any], template: Mapping[str, Any]) -> list[dict[str, str]]:
    """The labels of each pod ``workload`` runs from its pod ``template``.

    One entry for most workloads (their pods all carry the template's labels); one per pod for
    a StatefulSet, whose controller adds each pod's name and index. A workload scaled to zero
    still counts one pod: its Services and policies are judged as if it ran.
    """
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    spec = workload.get("spec") or {}
    if workload.get("kind") != "StatefulSet":
        return [labels]
    start = (spec.get("ordinals") or {}).get("start") or 0
    replicas = max(spec.get("replicas") or 1, 1)
    name = workload["metadata"]["name"]
    return [
        labels | {POD_NAME_LABEL: f"{name}-{ordinal}", POD_INDEX_LABEL: str(ordinal)}
        for ordinal in range(start, start + replicas)
    ]


def selects_any(selector: Mapping[str, Any] | None, pods: Iterable[Mapping[str, str]]) -> bool:
    """Whether the selector picks at least one of ``pods`` (each given by its labels)."""
    return any(selects(selector, labels) for labels in pods)
