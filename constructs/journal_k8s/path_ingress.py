"""PathIngress: one host's path routes, emitted in the order they are added."""

from __future__ import annotations

import re
from typing import Any

import jsii
from constructs import Construct, IValidation

from . import _bulk, _network, _pod
from ._types import Backend, IngressTls, check_dns_label, check_dns_subdomain

ACME_SOLVER_PORT = 8089
"""The port of cert-manager's HTTP-01 solver pods."""
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")


def shadows(earlier: str, later: str) -> bool:
    """Whether the Prefix path ``earlier`` matches every request that ``later`` matches.

    Prefix matching compares whole ``/``-separated elements and ignores a trailing slash.
    """
    earlier_elements = [e for e in earlier.split("/") if e]
    later_elements = [e for e in later.split("/") if e]
    return later_elements[: len(earlier_elements)] == earlier_elements


@jsii.implements(IValidation)
class _HasRoutes:
    def __init__(self, ingress: PathIngress) -> None:
        self._ingress = ingress

    def validate(self) -> list[str]:
        if self._ingress.paths:
            return []
        return [f"PathIngress {self._ingress.name!r} has no routes: call route(path, backend)"]


class PathIngress(Construct):
    """A ``networking.k8s.io/v1`` Ingress whose ``Prefix`` paths keep the order of ``route`` calls.

    Conformant controllers pick the longest matching prefix; some controllers follow the
    manifest order instead, so a route that an earlier one would swallow is rejected.

    Args:
        scope: the parent construct.
        id: the construct id.
        name: the Ingress's name. Default: ``"frontend-ingress"``.
        class_name: the ``ingressClassName``. Default: ``"nginx"``.
        host: the host the rules apply to. Default: every host.
        tls: TLS for ``host`` (requires ``host``). Default: plain HTTP.
        controller_namespace: the namespace of the ingress controller's pods, which the
            NetworkPolicies let in to each backend. Default: ``"ingress-nginx"``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str = "frontend-ingress",
        class_name: str = "nginx",
        host: str | None = None,
        tls: IngressTls | None = None,
        controller_namespace: str = "ingress-nginx",
    ) -> None:
        super().__init__(scope, id)
        self._name = check_dns_subdomain("name", name)
        check_dns_subdomain("class_name", class_name)
        check_dns_label("controller_namespace", controller_namespace)
        if host is not None:
            check_dns_subdomain("host", host)
        if tls is not None and host is None:
            raise ValueError("tls is not allowed without host: a certificate needs a host name")
        self._class_name = class_name
        self._host = host
        self._tls = tls
        self._controller_namespace = controller_namespace
        self._paths: list[str] = []
        self._allowed: set[str] = set()
        self.node.add_validation(_HasRoutes(self))
        if tls is not None and tls.cluster_issuer is not None:
            # cert-manager answers the HTTP-01 challenge from a solver pod in this namespace.
            _bulk.define(
                self,
                {
                    "AllowAcmeSolver": _network.allow(
                        direction="Ingress",
                        name=f"{name}-acme-solver",
                        pods={"acme.cert-manager.io/http01-solver": "true"},
                        peers=[_network.pods_in_namespace(controller_namespace)],
                        port=ACME_SOLVER_PORT,
                        labels=_pod.object_labels(name, "ingress"),
                    )
                },
            )

    @property
    def name(self) -> str:
        """The Ingress's name."""
        return self._name

    @property
    def paths(self) -> tuple[str, ...]:
        """The routed paths, in manifest order."""
        return tuple(self._paths)

    def route(self, path: str, backend: Backend) -> None:
        """Send requests under ``path`` (a ``Prefix``) to ``backend``'s Service.

        Raises:
            ValueError: the path is malformed, already routed, or an earlier route would
                shadow it; or the backend belongs to another chart.
        """
        if not _PATH.match(path):
            raise ValueError(
                f"path={path!r} is not allowed: expected an absolute URL path like '/api'"
            )
        for earlier in self._paths:
            if earlier == path:
                raise ValueError(f"path={path!r} is routed twice in Ingress {self._name!r}")
            if shadows(earlier, path):
                raise ValueError(
                    f"path={path!r} is not allowed after {earlier!r} in Ingress {self._name!r}: "
                    "controllers that follow manifest order would send it to the earlier "
                    f"route; add {path!r} first"
                )
        if not isinstance(backend, Construct) or not _bulk.same_chart(backend, self):
            raise ValueError(
                f"backend {backend.name!r} for path {path!r} is not defined in the chart of "
                f"Ingress {self._name!r}: an Ingress can only reach Services of its own namespace"
            )
        # Keys in the sorted order cdk8s gives the first path (patches are applied after sorting).
        entry = {
            "backend": {
                "service": {"name": backend.service_name, "port": {"number": backend.service_port}}
            },
            "path": path,
            "pathType": "Prefix",
        }
        objects: dict[str, _bulk.Manifest] = {}
        patches = []
        if self._paths:
            patches.append(
                ("Resource", {"op": "add", "path": "/spec/rules/0/http/paths/-", "value": entry})
            )
        else:
            objects["Resource"] = self._ingress([entry])
        if backend.name not in self._allowed:
            objects[f"AllowController-{backend.name}"] = _network.allow(
                direction="Ingress",
                name=f"{backend.name}-from-ingress",
                pods=backend.pod_labels,
                peers=[_network.pods_in_namespace(self._controller_namespace)],
                port=backend.container_port,
                labels=_pod.object_labels(self._name, "ingress"),
            )
        _bulk.define(self, objects, patches)
        self._paths.append(path)
        self._allowed.add(backend.name)

    def _ingress(self, paths: list[dict[str, Any]]) -> _bulk.Manifest:
        metadata: dict[str, Any] = {
            "name": self._name,
            "labels": _pod.object_labels(self._name, "ingress"),
        }
        spec: dict[str, Any] = {
            "ingressClassName": self._class_name,
            "rules": [{"host": self._host, "http": {"paths": paths}}],
        }
        if self._tls is not None and self._host is not None:
            spec["tls"] = [{"hosts": [self._host], "secretName": self._tls.secret_name}]
            if self._tls.cluster_issuer is not None:
                metadata["annotations"] = {
                    "cert-manager.io/cluster-issuer": self._tls.cluster_issuer
                }
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": metadata,
            "spec": spec,
        }
