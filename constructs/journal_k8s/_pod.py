"""Pieces every workload shares: labels, the restricted security context, rollout hashes."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping

from cdk8s_plus_27 import k8s
from constructs import Construct

from ._types import Resources

PART_OF = "journal"
CONFIG_HASH_ANNOTATION = "journal.example.com/config-hash"


@functools.cache
def quantity(amount: str) -> k8s.Quantity:
    """A resource quantity; cached, since each one is a round trip to the jsii kernel."""
    return k8s.Quantity.from_string(amount)


@functools.cache
def port(number_or_name: int | str) -> k8s.IntOrString:
    """A port number or name (or a count); cached like ``quantity``."""
    if isinstance(number_or_name, int):
        return k8s.IntOrString.from_number(number_or_name)
    return k8s.IntOrString.from_string(number_or_name)


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
    amounts = {"cpu": quantity(resources.cpu), "memory": quantity(resources.memory)}
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
    """A PodDisruptionBudget that lets at most one pod of the workload go at a time.

    With a single replica it still allows the eviction (a drain must not hang); it then
    only documents the intent.
    """
    return k8s.KubePodDisruptionBudget(
        scope,
        "Budget",
        metadata=k8s.ObjectMeta(name=name, labels=object_labels(name, component)),
        spec=k8s.PodDisruptionBudgetSpec(
            max_unavailable=port(1),
            selector=k8s.LabelSelector(match_labels=selector_labels(name)),
            # A pod that is not ready (a replica resyncing) must not block a node drain.
            unhealthy_pod_eviction_policy="AlwaysAllow",
        ),
    )


def http_probe(path: str, port_name: str, *, period: int, failures: int) -> k8s.Probe:
    """An HTTP GET probe on a named container port."""
    return k8s.Probe(
        http_get=k8s.HttpGetAction(path=path, port=port(port_name)),
        period_seconds=period,
        timeout_seconds=2,
        failure_threshold=failures,
    )


def rolling_update() -> k8s.DeploymentStrategy:
    """Replace pods one at a time, starting the new pod before stopping an old one."""
    return k8s.DeploymentStrategy(
        type="RollingUpdate",
        rolling_update=k8s.RollingUpdateDeployment(max_surge=port(1), max_unavailable=port(0)),
    )


def service(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    port_name: str,
    port_number: int,
    headless: bool = False,
) -> k8s.KubeService:
    """A ClusterIP Service (or a headless one) to the named container port of ``selector``."""
    return k8s.KubeService(
        scope,
        construct_id,
        metadata=k8s.ObjectMeta(name=name, labels=dict(labels)),
        spec=k8s.ServiceSpec(
            type="ClusterIP",
            cluster_ip="None" if headless else None,
            publish_not_ready_addresses=True if headless else None,
            selector=dict(selector),
            ports=[
                k8s.ServicePort(
                    name=port_name, port=port_number, target_port=port(port_name), protocol="TCP"
                )
            ],
        ),
    )
