"""Pieces every workload shares: labels, the restricted security context, rollout hashes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from cdk8s_plus_27 import k8s
from constructs import Construct

from ._types import Resources

PART_OF = "journal"
CONFIG_HASH_ANNOTATION = "journal.example.com/config-hash"


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


def pod_security(*, uid: int, gid: int) -> k8s.PodSecurityContext:
    """The pod-level context of the Pod Security Standard ``restricted``."""
    return k8s.PodSecurityContext(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=gid,
        fs_group=gid,
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
    )


def container_security() -> k8s.SecurityContext:
    """The container-level context of ``restricted``, with a read-only root filesystem."""
    return k8s.SecurityContext(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.Capabilities(drop=["ALL"]),
        seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
    )


def guaranteed(resources: Resources) -> k8s.ResourceRequirements:
    """Requests equal to limits, as the chapter asks (``requests``, never ``request``)."""
    amounts = {
        "cpu": k8s.Quantity.from_string(resources.cpu),
        "memory": k8s.Quantity.from_string(resources.memory),
    }
    return k8s.ResourceRequirements(requests=amounts, limits=dict(amounts))


def spread_over_nodes(name: str) -> list[k8s.TopologySpreadConstraint]:
    """A soft spread of a workload's pods over nodes."""
    return [
        k8s.TopologySpreadConstraint(
            max_skew=1,
            topology_key="kubernetes.io/hostname",
            when_unsatisfiable="ScheduleAnyway",
            label_selector=k8s.LabelSelector(match_labels=selector_labels(name)),
        )
    ]


def disruption_budget(scope: Construct, name: str, component: str) -> k8s.KubePodDisruptionBudget:
    """A PodDisruptionBudget that lets at most one pod of the workload go at a time."""
    return k8s.KubePodDisruptionBudget(
        scope,
        "Budget",
        metadata=k8s.ObjectMeta(name=name, labels=object_labels(name, component)),
        spec=k8s.PodDisruptionBudgetSpec(
            max_unavailable=k8s.IntOrString.from_number(1),
            selector=k8s.LabelSelector(match_labels=selector_labels(name)),
        ),
    )


def http_probe(path: str, port: str, *, period: int, failures: int) -> k8s.Probe:
    """An HTTP GET probe on a named container port."""
    return k8s.Probe(
        http_get=k8s.HttpGetAction(path=path, port=k8s.IntOrString.from_string(port)),
        period_seconds=period,
        timeout_seconds=2,
        failure_threshold=failures,
    )
