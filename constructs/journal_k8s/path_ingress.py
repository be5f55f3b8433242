"""PathIngress: one host's path routes, emitted most specific first."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from . import _bulk, _network, _pod
from ._base import JournalConstruct
from ._kplus import k8s
from ._paths import elements, most_specific_first
from ._peers import ServiceTarget, service_of
from ._types import (
    IngressTls,
    Route,
    check_dns_label,
    check_dns_subdomain,
    check_host,
    check_instance,
    check_name_fits,
    check_path,
)

CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
"""The annotation by which cert-manager issues an Ingress's certificate."""
ACME_SOLVER_PORT = 8089
"""The port of cert-manager's HTTP-01 solver pods."""


class PathIngress(JournalConstruct):
    """A ``networking.k8s.io/v1`` Ingress of ``Prefix`` paths, the most specific path first.

    Conformant controllers pick the longest matching prefix; some controllers follow the
    manifest order instead. The paths are therefore emitted so that a longer prefix always
    comes before every prefix that contains it (``/api`` before ``/``), whatever the order
    of the ``route`` calls.

    Args:
        scope: the parent construct.
        id: the construct id.
        name: the Ingress's name; the NetworkPolicies it adds are named
            ``<backend>-from-<name>``. Default: ``"frontend-ingress"``.
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
        check_name_fits("name", name, name, "the value of the label app.kubernetes.io/name")
        check_dns_subdomain("class_name", class_name)
        check_dns_label("controller_namespace", controller_namespace)
        if host is not None:
            check_host("host", host)
        check_instance("tls", tls, IngressTls, None)
        if tls is not None and host is None:
            raise ValueError("tls is not allowed without host: a certificate needs a host name")
        self._class_name = class_name
        self._host = host
        self._tls = tls
        self._controller = k8s.NetworkPolicyPeer(
            namespace_selector=_network.in_namespace(controller_namespace)
        )
        self._routes: dict[str, ServiceTarget] = {}
        self._allowed: set[str] = set()
        objects: dict[str, Any] = {}
        if tls is not None and tls.cluster_issuer is not None:
            # cert-manager answers the HTTP-01 challenge from a solver pod in this namespace.
            solver = {"acme.cert-manager.io/http01-solver": "true"}
            objects["AllowAcmeSolver"] = _network.allow(
                direction="Ingress",
                name=f"{name}-acme-solver",
                pods=k8s.LabelSelector(match_labels=solver),
                peers=[self._controller],
                port=ACME_SOLVER_PORT,
                labels=_pod.object_labels(name, "ingress"),
            )
        objects["Resource"] = self._ingress()
        self._namespace = _bulk.define(self, objects)

    @property
    def name(self) -> str:
        """The Ingress's name."""
        return self._name

    @property
    def paths(self) -> tuple[str, ...]:
        """The routed paths, in manifest order (most specific first)."""
        return tuple(most_specific_first(list(self._routes)))

    def route(self, path: str, backend: Route) -> None:
        """Send requests under ``path`` (a ``Prefix``) to ``backend``'s Service.

        ``backend`` is a journal tier (``ApiFrontend``, ``StaticSite``), a ``kplus.Service``
        with one port, or any construct with ``service_name``, ``service_port``,
        ``container_port`` and ``pod_labels``. Routes may come in any order, also after a
        ``JournalService`` has routed its own.

        Raises:
            ValueError: the path is malformed or already routed, or the backend is in
                another namespace (an Ingress reaches Services of its own namespace only).
            TypeError: ``backend`` is not a backend; the message names what it lacks.
        """
        check_path("path", path)
        for routed in self._routes:
            if elements(routed) == elements(path):
                raise ValueError(f"path={path!r} is routed twice in Ingress {self._name!r}")
        target = service_of(backend, f"backend for path {path!r}")
        namespace = self._namespace
        if target.pods.namespace != namespace:
            raise ValueError(
                f"backend {target.pods.scope.node.path} for path {path!r} is in namespace "
                f"{target.pods.namespace!r}, Ingress {self._name!r} ({self.node.path}) in "
                f"{namespace!r}: an Ingress can only send requests to Services of its own "
                "namespace; route it from an Ingress in that namespace"
            )
        objects: dict[str, Any] = {}
        allowed = f"{target.pods.key} {target.target_port}"
        if allowed not in self._allowed:
            objects[f"AllowController-{target.pods.name}"] = _network.allow(
                direction="Ingress",
                name=f"{target.pods.name}-from-{self._name}",
                pods=target.pods.selector(),
                peers=[self._controller],
                port=target.target_port,
                labels=_pod.object_labels(self._name, "ingress"),
            )
            _bulk.define(self, objects)
        self._routes[path] = target
        self._allowed.add(allowed)

    @staticmethod
    def _entry(path: str, target: ServiceTarget) -> dict[str, Any]:
        backend = {"service": {"name": target.name, "port": {"number": target.port}}}
        return {"backend": backend, "path": path, "pathType": "Prefix"}

    def _ingress(self) -> _bulk.Typed:
        """The Ingress; its spec is rendered at synth from the routes (``_spec``)."""
        metadata: dict[str, Any] = {
            "name": self._name,
            "labels": _pod.object_labels(self._name, "ingress"),
        }
        if self._tls is not None and self._tls.cluster_issuer is not None:
            metadata["annotations"] = {CLUSTER_ISSUER_ANNOTATION: self._tls.cluster_issuer}
        manifest = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": metadata,
            "spec": _bulk.lazy(self._spec),
        }
        return _bulk.Typed(k8s.KubeIngress, manifest)

    def _spec(self) -> dict[str, Any]:
        paths = [self._entry(p, self._routes[p]) for p in most_specific_first(list(self._routes))]
        rule: dict[str, Any] = {"http": {"paths": paths}}
        spec: dict[str, Any] = {"ingressClassName": self._class_name, "rules": [rule]}
        if self._host is not None:
            rule["host"] = self._host
            if self._tls is not None:
                spec["tls"] = [{"hosts": [self._host], "secretName": self._tls.secret_name}]
        return spec
