"""The part every tier behind a Service shares: its name, pod labels, ports, and scaling."""

from __future__ import annotations

import math
from collections.abc import Mapping

import cdk8s
import jsii
from constructs import Construct

from . import _bulk, _pod
from ._autoscaling import autoscaler, default_budget, tier_budget
from ._kplus import k8s, kplus
from ._peers import SelectablePods
from ._types import (
    Autoscaling,
    DisruptionBudget,
    PodOptions,
    Resources,
    check_instance,
    check_positive,
    check_service_name,
)
from .grammar import quantity_value

DEFAULT_REPLICAS = 2
"""The pods of a tier given neither ``replicas`` nor ``autoscaling``."""


@jsii.implements(kplus.IScalable)
class ServedWorkload(SelectablePods):
    """A workload whose pods a ``kplus.Service`` of the same name exposes (a route backend).

    It is a ``kplus.IScalable``: ``kplus.HorizontalPodAutoscaler(target=tier, ...)`` scales
    its Deployment as it scales a kplus Deployment, and the Deployment then has no
    ``spec.replicas``.
    """

    def __init__(
        self, scope: Construct, id: str, *, name: str, service_port: int, container_port: int
    ) -> None:
        check_service_name("name", name, max_length=56)
        super().__init__(scope, id, name=name)
        self._service_port = service_port
        self._container_port = container_port
        self._has_autoscaler = False
        self._replicas: int | None = None
        self._budget_given = False
        self._containers: list[tuple[k8s.Container, Resources | None]] = []

    @property
    def service_name(self) -> str:
        """The Service's name."""
        return self._name

    @property
    def service_port(self) -> int:
        """The Service's port."""
        return self._service_port

    @property
    def container_port(self) -> int:
        """The port the pods listen on."""
        return self._container_port

    @property
    def deployment(self) -> cdk8s.ApiObject:
        """The Deployment (construct id ``Deployment``), for JSON patches."""
        return _bulk.api_object(self, "Deployment")

    @property
    def service(self) -> kplus.Service:
        """The Service (construct id ``Service``): a ``kplus.Service``, so that
        ``kplus.IngressBackend.from_service(tier.service)`` works; ``cdk8s.ApiObject.of``
        gives its manifest for JSON patches."""
        return _bulk.service(self, "Service")

    @property
    def config_map(self) -> cdk8s.ApiObject:
        """The ConfigMap (construct id ``Config``), for JSON patches."""
        return _bulk.api_object(self, "Config")

    @property
    def has_autoscaler(self) -> bool:
        """Whether an autoscaler (its own ``autoscaling``, or a kplus one) scales the tier."""
        return self._has_autoscaler

    @has_autoscaler.setter
    def has_autoscaler(self, value: bool) -> None:
        if value and not self._has_autoscaler:
            self.mark_has_autoscaler()
        self._has_autoscaler = value

    def mark_has_autoscaler(self) -> None:
        """Called by an autoscaler that targets the tier (``kplus.HorizontalPodAutoscaler``).

        The Deployment drops ``spec.replicas``; a default budget becomes ``minAvailable: 1``
        (the autoscaler may hold a single pod; pass ``budget=`` to choose another).

        Raises:
            ValueError: the tier already has an autoscaler (its ``autoscaling``, or another):
                two autoscalers of one Deployment fight over its replicas.
        """
        if self._has_autoscaler:
            raise ValueError(
                f"{self.node.path}: a second autoscaler is not allowed: the tier already has "
                "one (its autoscaling option or another HorizontalPodAutoscaler), and two "
                "would fight over the Deployment's replicas"
            )
        self._has_autoscaler = True
        self.deployment.add_json_patch(cdk8s.JsonPatch.remove("/spec/replicas"))
        if not self._budget_given:
            # The fixed replicas' default was maxUnavailable: 1; the autoscaler's floor is
            # not known here, and a kplus autoscaler's default is 1 pod.
            field, value = default_budget(1, 2).form()
            budget = _bulk.api_object(self, "Budget")
            budget.add_json_patch(cdk8s.JsonPatch.remove("/spec/maxUnavailable"))
            budget.add_json_patch(cdk8s.JsonPatch.add(f"/spec/{field}", value))

    def to_scaling_target(self) -> kplus.ScalingTarget:
        """The Deployment as an autoscaler's target: its kind, name and containers (as
        ``kplus.Container``s with their CPU and memory), and its replicas unless autoscaled."""
        return kplus.ScalingTarget(
            api_version="apps/v1",
            kind="Deployment",
            name=self._name,
            containers=[_kplus_container(c, r) for c, r in self._containers],
            replicas=None if self._has_autoscaler else self._replicas,
        )

    def _define_tier(
        self,
        *,
        component: str,
        config_name: str,
        config: Mapping[str, str],
        replicas: int | None,
        autoscaling: Autoscaling | None,
        budget: DisruptionBudget | None,
        uid: int,
        container: k8s.Container,
        resources: Resources,
        volumes: list[k8s.Volume],
        options: PodOptions,
        extra: Mapping[str, _bulk.Body] | None = None,
    ) -> None:
        """Define the ConfigMap ``config_name``, the Deployment, its Service and budget, with
        ``autoscaling`` its HorizontalPodAutoscaler (the Deployment then has no replicas), then
        the ``extra`` objects (by construct id).

        The pods run ``container`` (of ``resources``) as ``uid`` with ``volumes`` and the
        user's ``options``, and carry a hash of ``config``, so a configuration change rolls
        them.
        """
        if replicas is not None:
            check_positive("replicas", replicas)
        if autoscaling is not None:
            check_instance("autoscaling", autoscaling, Autoscaling, autoscaling)
            if replicas is not None:
                raise ValueError(
                    f"replicas={replicas!r} is not allowed with autoscaling: its "
                    "HorizontalPodAutoscaler sets the number of pods (from min_replicas to "
                    "max_replicas); give one of replicas= and autoscaling="
                )
        if budget is not None:
            check_instance("budget", budget, DisruptionBudget, budget)
        if autoscaling is None:
            floor = peak = replicas = DEFAULT_REPLICAS if replicas is None else replicas
        else:
            floor, peak = autoscaling.min_replicas, autoscaling.max_replicas
            # Its own autoscaler is sound by construction (no replicas, requests checked
            # here); the namespace's quota is checked by its RestrictedNamespace.
            _check_cpu_requests(options, autoscaling)
        self._replicas = None if autoscaling is not None else replicas
        self._has_autoscaler = autoscaling is not None
        self._budget_given = budget is not None
        self._containers = [(container, resources), *((c, None) for c in options.sidecars)]
        labels = _pod.object_labels(self._name, component)
        template = _pod.pod_template(
            self._name,
            labels=labels,
            config_hash=_pod.content_hash(config),
            uid=uid,
            gid=uid,
            container=container,
            volumes=volumes,
            options=options,
        )
        namespace = _bulk.define(
            self,
            {
                "Config": k8s.KubeConfigMapProps(
                    metadata=_pod.metadata(config_name, labels), data=dict(config)
                ),
                "Deployment": k8s.KubeDeploymentProps(
                    metadata=_pod.metadata(self._name, labels),
                    spec=k8s.DeploymentSpec(
                        replicas=self._replicas,
                        selector=k8s.LabelSelector(match_labels=dict(self._pod_labels)),
                        strategy=_pod.rolling_update(),
                        template=template,
                    ),
                ),
                "Service": _bulk.SelectingService(
                    kplus.ServiceProps(
                        metadata=cdk8s.ApiObjectMetadata(name=self._name, labels=labels),
                        type=kplus.ServiceType.CLUSTER_IP,
                        ports=[
                            kplus.ServicePort(
                                name="http",
                                port=self._service_port,
                                target_port=self._container_port,
                                protocol=kplus.Protocol.TCP,
                            )
                        ],
                    ),
                    self._pod_labels,
                ),
                "Budget": _pod.disruption_budget(
                    self._name, component, tier_budget("budget", budget, floor, peak)
                ),
                **(
                    {}
                    if autoscaling is None
                    else {"Autoscaler": autoscaler(self._name, labels, autoscaling)}
                ),
                **(extra or {}),
            },
            # cdk8s-plus writes externalIPs: [] (dropped by the API server, so a GitOps differ
            # would see a change for ever): added then removed, whatever the kplus version.
            [
                ("Service", {"op": "add", "path": "/spec/externalIPs", "value": []}),
                ("Service", {"op": "remove", "path": "/spec/externalIPs"}),
            ],
        )
        self._learn(namespace)


def _check_cpu_requests(options: PodOptions, autoscaling: Autoscaling) -> None:
    """Refuse a utilization target that a sidecar's missing request makes unusable: the
    autoscaler computes utilization over every container, and stops on one without."""
    for resource, percent in (
        ("cpu", autoscaling.cpu_utilization),
        ("memory", autoscaling.memory_utilization),
    ):
        if percent is None:
            continue
        for sidecar in options.sidecars:
            requests = sidecar.resources.requests if sidecar.resources is not None else None
            if not requests or resource not in requests:
                raise ValueError(
                    f"autoscaling {resource}_utilization={percent} is not allowed: sidecar "
                    f"{sidecar.name!r} requests no {resource}, and the autoscaler computes "
                    f"utilization over every container; give it resources.requests.{resource}"
                )


def _kplus_container(container: k8s.Container, resources: Resources | None) -> kplus.Container:
    """A pod's container as a ``kplus.Container`` (name, image, CPU and memory), for
    ``to_scaling_target``; a sidecar's quantities are read back from Node."""
    if resources is not None:
        requests = {"cpu": resources.cpu, "memory": resources.memory}
        limits = {
            "cpu": resources.cpu_limit or resources.cpu,
            "memory": resources.memory_limit or resources.memory,
        }
    else:
        given = container.resources or k8s.ResourceRequirements()
        requests = {k: str(q.value) for k, q in (given.requests or {}).items()}
        limits = {k: str(q.value) for k, q in (given.limits or {}).items()}

    def cpu(amounts: Mapping[str, str]) -> kplus.Cpu | None:
        text = amounts.get("cpu")
        return None if text is None else kplus.Cpu.millis(math.ceil(quantity_value(text) * 1000))

    def memory(amounts: Mapping[str, str]) -> cdk8s.Size | None:
        text = amounts.get("memory")
        return None if text is None else cdk8s.Size.kibibytes(float(quantity_value(text) / 1024))

    return kplus.Container(
        image=container.image or "",
        name=container.name,
        resources=kplus.ContainerResources(
            cpu=kplus.CpuResources(request=cpu(requests), limit=cpu(limits)),
            memory=kplus.MemoryResources(request=memory(requests), limit=memory(limits)),
        ),
    )
