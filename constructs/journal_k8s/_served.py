"""The part every tier behind a Service shares: its name, pod labels and ports."""

from __future__ import annotations

from collections.abc import Mapping

import cdk8s
import cdk8s_plus_27 as kplus
from cdk8s_plus_27 import k8s
from constructs import Construct

from . import _bulk, _pod
from ._peers import SelectablePods
from ._types import PodOptions, check_service_name


class ServedWorkload(SelectablePods):
    """A workload whose pods a ``kplus.Service`` of the same name exposes (a route backend)."""

    def __init__(
        self, scope: Construct, id: str, *, name: str, service_port: int, container_port: int
    ) -> None:
        check_service_name("name", name, max_length=56)
        super().__init__(scope, id, name=name)
        self._service_port = service_port
        self._container_port = container_port

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

    def _define_tier(
        self,
        *,
        component: str,
        config_name: str,
        config: Mapping[str, str],
        replicas: int,
        uid: int,
        container: k8s.Container,
        volumes: list[k8s.Volume],
        options: PodOptions,
        extra: Mapping[str, _bulk.Body] | None = None,
    ) -> None:
        """Define the ConfigMap ``config_name``, the Deployment, its Service and budget, then
        the ``extra`` objects (by construct id).

        The pods run ``container`` as ``uid`` with ``volumes`` and the user's ``options``, and
        carry a hash of ``config``, so a configuration change rolls them.
        """
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
        self._namespace = _bulk.define(
            self,
            {
                "Config": k8s.KubeConfigMapProps(
                    metadata=_pod.metadata(config_name, labels), data=dict(config)
                ),
                "Deployment": k8s.KubeDeploymentProps(
                    metadata=_pod.metadata(self._name, labels),
                    spec=k8s.DeploymentSpec(
                        replicas=replicas,
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
                "Budget": _pod.disruption_budget(self._name, component),
                **(extra or {}),
            },
        )
