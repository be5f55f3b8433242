"""PathIngress: one host's path routes, emitted in the order they are added."""

from __future__ import annotations

import re

import cdk8s
import jsii
from cdk8s_plus_27 import k8s
from constructs import Construct, IValidation

from . import _network, _pod
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
        self._ingress: k8s.KubeIngress | None = None
        self.node.add_validation(_HasRoutes(self))
        if tls is not None and tls.cluster_issuer is not None:
            # cert-manager answers the HTTP-01 challenge from a solver pod in this namespace.
            _network.allow(
                self,
                "AllowAcmeSolver",
                direction="Ingress",
                name=f"{name}-acme-solver",
                pods={"acme.cert-manager.io/http01-solver": "true"},
                peers=[_network.pods_in_namespace(controller_namespace)],
                port=ACME_SOLVER_PORT,
                labels=_pod.object_labels(name, "ingress"),
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
        if not isinstance(backend, Construct) or (
            cdk8s.Chart.of(backend).node.path != cdk8s.Chart.of(self).node.path
        ):
            raise ValueError(
                f"backend {backend.name!r} for path {path!r} is not defined in the chart of "
                f"Ingress {self._name!r}: an Ingress can only reach Services of its own namespace"
            )
        entry = k8s.HttpIngressPath(
            path=path,
            path_type="Prefix",
            backend=k8s.IngressBackend(
                service=k8s.IngressServiceBackend(
                    name=backend.service_name,
                    port=k8s.ServiceBackendPort(number=backend.service_port),
                )
            ),
        )
        if self._ingress is None:
            self._ingress = self._create([entry])
        else:
            cdk8s.ApiObject.of(self._ingress).add_json_patch(
                cdk8s.JsonPatch.add("/spec/rules/0/http/paths/-", _path_json(entry))
            )
        self._paths.append(path)
        self._allow_controller(backend)

    def _create(self, paths: list[k8s.HttpIngressPath]) -> k8s.KubeIngress:
        annotations = None
        if self._tls is not None and self._tls.cluster_issuer is not None:
            annotations = {"cert-manager.io/cluster-issuer": self._tls.cluster_issuer}
        return k8s.KubeIngress(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(
                name=self._name,
                labels=_pod.object_labels(self._name, "ingress"),
                annotations=annotations,
            ),
            spec=k8s.IngressSpec(
                ingress_class_name=self._class_name,
                tls=None
                if self._tls is None or self._host is None
                else [k8s.IngressTls(hosts=[self._host], secret_name=self._tls.secret_name)],
                rules=[
                    k8s.IngressRule(host=self._host, http=k8s.HttpIngressRuleValue(paths=paths))
                ],
            ),
        )

    def _allow_controller(self, backend: Backend) -> None:
        if backend.name in self._allowed:
            return
        self._allowed.add(backend.name)
        _network.allow(
            self,
            f"AllowController-{backend.name}",
            direction="Ingress",
            name=f"{backend.name}-from-ingress",
            pods=backend.pod_labels,
            peers=[_network.pods_in_namespace(self._controller_namespace)],
            port=backend.container_port,
            labels=_pod.object_labels(self._name, "ingress"),
        )


def _path_json(entry: k8s.HttpIngressPath) -> dict[str, object]:
    return {
        "path": entry.path,
        "pathType": entry.path_type,
        "backend": {
            "service": {
                "name": entry.backend.service.name,  # type: ignore[union-attr]
                "port": {"number": entry.backend.service.port.number},  # type: ignore[union-attr]
            }
        },
    }
