"""The part every tier behind a Service shares: its name, pod labels and ports."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from constructs import Construct

from . import _pod
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
