"""The part every tier behind a Service shares: its name, pod labels and ports."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import cdk8s
from constructs import Construct

from . import _bulk, _pod
from ._types import check_service_name


class ServedWorkload(Construct):
    """A workload whose pods a Service of the same name exposes (a ``Backend``)."""

    def __init__(
        self, scope: Construct, id: str, *, name: str, service_port: int, container_port: int
    ) -> None:
        super().__init__(scope, id)
        self._name = check_service_name("name", name, max_length=56)
        self._service_port = service_port
        self._container_port = container_port
        self._pod_labels = _pod.selector_labels(name)

    @property
    def name(self) -> str:
        """The workload's (and its Service's) name."""
        return self._name

    @property
    def pod_labels(self) -> Mapping[str, str]:
        """The labels that select the workload's pods."""
        return MappingProxyType(self._pod_labels)

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
    def service(self) -> cdk8s.ApiObject:
        """The Service (construct id ``Service``), for JSON patches."""
        return _bulk.api_object(self, "Service")

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
        pod_spec: dict[str, Any],
    ) -> None:
        """Define the ConfigMap ``config_name``, the Deployment, its Service and budget.

        The pods carry a hash of ``config``, so a configuration change rolls them.
        """
        labels = _pod.object_labels(self._name, component)
        _bulk.define(
            self,
            {
                "Config": {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": config_name, "labels": labels},
                    "data": dict(config),
                },
                "Deployment": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": self._name, "labels": labels},
                    "spec": {
                        "replicas": replicas,
                        "selector": {"matchLabels": self._pod_labels},
                        "strategy": _pod.rolling_update(),
                        "template": {
                            "metadata": {
                                "labels": labels,
                                "annotations": {
                                    _pod.CONFIG_HASH_ANNOTATION: _pod.content_hash(config)
                                },
                            },
                            "spec": pod_spec,
                        },
                    },
                },
                "Service": _pod.service(
                    name=self._name,
                    labels=labels,
                    selector=self._pod_labels,
                    port_name="http",
                    port_number=self._service_port,
                ),
                "Budget": _pod.disruption_budget(self._name, component),
            },
        )
