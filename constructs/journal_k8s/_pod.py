"""Pieces every workload shares: labels, the restricted security context, rollout hashes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._bulk import int_or_string, quantity
from ._kplus import k8s
from ._types import DisruptionBudget, ExistingSecret, PodOptions, Resources

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


def metadata(name: str, labels: Mapping[str, str]) -> k8s.ObjectMeta:
    """An object's name and labels (the chart adds its namespace)."""
    return k8s.ObjectMeta(name=name, labels=dict(labels))


def content_hash(files: Mapping[str, str]) -> str:
    """A short digest of configuration files; a change of any file changes it."""
    digest = hashlib.sha256()
    for file_name in sorted(files):
        digest.update(file_name.encode() + b"\0" + files[file_name].encode() + b"\0")
    return digest.hexdigest()[:16]


def restricted_pod_security(*, uid: int, gid: int) -> k8s.PodSecurityContext:
    """The pod-level context of the Pod Security Standard ``restricted``, running as ``uid``.

    Give it to any pod (``k8s.PodSpec(security_context=...)``) to meet ``restricted``
    together with ``restricted_container_security`` on each container.
    """
    return k8s.PodSecurityContext(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=gid,
        fs_group=gid,
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
    )


def restricted_container_security() -> k8s.SecurityContext:
    """The container-level context of ``restricted``, with a read-only root filesystem."""
    return k8s.SecurityContext(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.Capabilities(drop=["ALL"]),
        seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
    )


def container(
    name: str, image: str, resources: Resources, *, run_as: int | None = None, **fields: Any
) -> k8s.Container:
    """A container as every tier runs one: pulled when not present, within ``resources``,
    ``restricted`` (as user and group ``run_as`` when given); ``fields`` are the rest."""
    security = restricted_container_security()
    if run_as is not None:
        security = k8s.SecurityContext(
            **{**security._values, "run_as_user": run_as, "run_as_group": run_as}
        )
    return k8s.Container(
        name=name,
        image=image,
        image_pull_policy="IfNotPresent",
        resources=requirements(resources),
        security_context=security,
        **fields,
    )


def pod_template(
    name: str,
    *,
    labels: Mapping[str, str],
    config_hash: str,
    uid: int,
    gid: int,
    container: k8s.Container,
    volumes: Sequence[k8s.Volume],
    options: PodOptions,
    termination_grace_period: int | None = None,
    dns_config: k8s.PodDnsConfig | None = None,
    claimed: Sequence[str] = (),
) -> k8s.PodTemplateSpec:
    """The pod template of workload ``name``: ``restricted``, no API token, spread, plus
    the user's ``options`` (their names checked against the workload's own, ``claimed`` the
    volumes of its claim templates); a ``termination_grace_period`` in seconds (default:
    Kubernetes', 30 s) and resolver settings ``dns_config`` (default: the cluster's)."""
    options.check_against(container, volumes, labels, claimed)
    main = k8s.Container(
        **{
            **container._values,
            "env": [*(container.env or ()), *options.env] or None,
            "env_from": list(options.env_from) or None,
            "volume_mounts": [*(container.volume_mounts or ()), *options.volume_mounts],
        }
    )
    spread = options.topology_spread
    return k8s.PodTemplateSpec(
        metadata=k8s.ObjectMeta(
            labels={**options.labels, **labels},
            annotations={**options.annotations, CONFIG_HASH_ANNOTATION: config_hash},
        ),
        spec=k8s.PodSpec(
            automount_service_account_token=options.automount_service_account_token,
            enable_service_links=False,
            service_account_name=options.service_account_name,
            security_context=restricted_pod_security(uid=uid, gid=gid),
            topology_spread_constraints=list(spread_over_nodes(name) if spread is None else spread),
            containers=[main, *options.sidecars],
            termination_grace_period_seconds=termination_grace_period,
            dns_config=dns_config,
            init_containers=list(options.init_containers) or None,
            volumes=[*volumes, *options.volumes],
            tolerations=list(options.tolerations) or None,
            node_selector=dict(options.node_selector) or None,
            affinity=options.affinity,
            image_pull_secrets=[
                k8s.LocalObjectReference(name=secret) for secret in options.image_pull_secrets
            ]
            or None,
            priority_class_name=options.priority_class_name,
            readiness_gates=list(options.readiness_gates) or None,
        ),
    )


def requirements(resources: Resources) -> k8s.ResourceRequirements:
    """Requests, and limits (equal to the requests unless set): ``requests``, never ``request``."""
    requests = {"cpu": resources.cpu, "memory": resources.memory}
    limits = {
        "cpu": resources.cpu_limit or resources.cpu,
        "memory": resources.memory_limit or resources.memory,
    }
    return k8s.ResourceRequirements(
        requests={k: quantity(v) for k, v in requests.items()},
        limits={k: quantity(v) for k, v in limits.items()},
    )


def secret_volume(name: str, secret: ExistingSecret) -> k8s.Volume:
    """A volume of one Secret key, as a file of that name readable by the pod's group only."""
    return k8s.Volume(
        name=name,
        secret=k8s.SecretVolumeSource(
            secret_name=secret.name,
            default_mode=0o440,
            items=[k8s.KeyToPath(key=secret.key, path=secret.key)],
        ),
    )


def config_volume(name: str, config_map: str, files: Iterable[str]) -> k8s.Volume:
    """The ``files`` of the ConfigMap ``config_map`` as the volume ``name``: read-only, and the
    scripts (``.sh``) executable."""
    return k8s.Volume(
        name=name,
        config_map=k8s.ConfigMapVolumeSource(
            name=config_map,
            default_mode=0o444,
            items=[
                k8s.KeyToPath(key=file, path=file, mode=0o555 if file.endswith(".sh") else None)
                for file in files
            ],
        ),
    )


def memory_volume(name: str) -> k8s.Volume:
    """A memory-backed scratch volume of 1 MiB (rendered configs, sockets, pid files)."""
    return k8s.Volume(
        name=name,
        empty_dir=k8s.EmptyDirVolumeSource(medium="Memory", size_limit=quantity("1Mi")),
    )


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


def disruption_budget(
    name: str, component: str, budget: DisruptionBudget
) -> k8s.KubePodDisruptionBudgetProps:
    """The PodDisruptionBudget of a workload's pods (``_autoscaling.tier_budget`` chooses it)."""
    field, value = budget.form()
    amount = int_or_string(value)
    return k8s.KubePodDisruptionBudgetProps(
        metadata=metadata(name, object_labels(name, component)),
        spec=k8s.PodDisruptionBudgetSpec(
            max_unavailable=amount if field == "maxUnavailable" else None,
            min_available=amount if field == "minAvailable" else None,
            selector=k8s.LabelSelector(match_labels=selector_labels(name)),
            # A pod that is not ready (a replica resyncing) must not block a node drain.
            unhealthy_pod_eviction_policy="AlwaysAllow",
        ),
    )


def http_probe(path: str, port_name: str, *, period: int, failures: int) -> k8s.Probe:
    """An HTTP GET probe on a named container port."""
    return k8s.Probe(
        http_get=k8s.HttpGetAction(path=path, port=int_or_string(port_name)),
        period_seconds=period,
        timeout_seconds=2,
        failure_threshold=failures,
    )


def rolling_update() -> k8s.DeploymentStrategy:
    """Replace pods one at a time, starting the new pod before stopping an old one."""
    return k8s.DeploymentStrategy(
        type="RollingUpdate",
        rolling_update=k8s.RollingUpdateDeployment(
            max_surge=int_or_string(1), max_unavailable=int_or_string(0)
        ),
    )


def tcp_port(name: str, number: int) -> k8s.ContainerPort:
    """A named TCP container port."""
    return k8s.ContainerPort(name=name, container_port=number, protocol="TCP")


def service(
    *,
    name: str,
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    port_name: str,
    port_number: int,
    headless: bool = False,
    target_port: str | None = None,
) -> k8s.KubeServiceProps:
    """A ClusterIP Service (or a headless one) to the named container port of ``selector``
    (``target_port``, default: the port's own name)."""
    return k8s.KubeServiceProps(
        metadata=metadata(name, labels),
        spec=k8s.ServiceSpec(
            type="ClusterIP",
            selector=dict(selector),
            ports=[
                k8s.ServicePort(
                    name=port_name,
                    port=port_number,
                    target_port=int_or_string(target_port or port_name),
                    protocol="TCP",
                )
            ],
            cluster_ip="None" if headless else None,
            publish_not_ready_addresses=True if headless else None,
        ),
    )
