"""PathRoute: a Gateway API HTTPRoute whose path prefixes are ordered most specific first."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cdk8s
from constructs import Construct

from . import _bulk, _gateway, _network, _pod
from ._base import JournalConstruct
from ._kplus import k8s
from ._paths import elements, specificity
from ._peers import service_of
from ._types import (
    Route,
    check_dns_label,
    check_dns_subdomain,
    check_host,
    check_labels,
    check_path,
)
from .rules import GATEWAY_GROUP

HTTP_ROUTE = (f"{GATEWAY_GROUP}/v1", "HTTPRoute")
"""``apiVersion`` and ``kind`` of ``_gateway.HttpRoute`` (its ``GVK``, without a jsii call)."""
REFERENCE_GRANT = (f"{GATEWAY_GROUP}/v1", "ReferenceGrant")
"""``apiVersion`` and ``kind`` of ``_gateway.ReferenceGrant``."""
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
"""The label Gateway implementations put on a Gateway's data-plane pods (GEP-1762)."""
MAX_RULES = 16
"""The most rules an HTTPRoute may hold (the CRD's ``maxItems``)."""

_ENUM_VALUES: dict[enum.Enum, str] = {
    _gateway.HttpRouteSpecRulesMatchesPathType.PATH_PREFIX: "PathPrefix",
}
"""The Kubernetes value of each generated enum member the construct uses.

jsii's Python enums carry the member name (``PATH_PREFIX``); the value lives in Node.
"""


def _json(value: Any) -> Any:
    """A generated Gateway API struct as Kubernetes JSON (``_bulk.crd_json``)."""
    return _bulk.crd_json(value, _ENUM_VALUES)


@dataclass(frozen=True)
class _Target:
    """What a route needs of a backend: its Service, its pods and the chart it lives in."""

    name: str
    service_name: str
    service_port: int
    container_port: int | str
    pod_labels: Mapping[str, str]
    scope: Construct
    namespace: str | None


def _resolve(backend: Any) -> _Target:
    """The routing target of ``backend``: what ``PathIngress.route`` accepts (a journal tier, a
    ``kplus.Service``, or a construct with a Service and pods)."""
    target = service_of(backend, "backend")
    return _Target(
        name=target.pods.name,
        service_name=target.name,
        service_port=target.port,
        container_port=target.target_port,
        pod_labels=target.pods.match_labels,
        scope=target.pods.scope,
        namespace=target.pods.namespace,
    )


class PathRoute(JournalConstruct):
    """A ``gateway.networking.k8s.io/v1`` HTTPRoute on an existing Gateway, one rule per path.

    Each ``route`` adds a ``PathPrefix`` rule; rules are kept most specific first (``/api``
    before ``/``, whatever the call order), although the Gateway API already lets the longest
    matching prefix win. The body is built from the classes that ``make imports`` generates
    from the Gateway API CRDs (``journal_k8s._gateway``).

    The HTTPRoute may attach to a Gateway of another namespace without a ReferenceGrant: the
    Gateway listener's ``allowedRoutes`` decides whether it accepts the route. A backend of
    another chart (another namespace) is referenced with its namespace, and a ReferenceGrant
    in that namespace lets this HTTPRoute reach its Service. That ReferenceGrant and the
    backend's NetworkPolicy belong to the backend's namespace, so they go to the backend's own
    chart (one file, one GitOps app per namespace), as ``Redis.allow_from`` puts a client's
    policy into the client's chart and cdk8s-plus's ``connections`` put each side's policy
    into that side's namespace.

    Args:
        scope: the parent construct.
        id: the construct id.
        gateway_name: the name of the Gateway to attach to.
        gateway_namespace: the Gateway's namespace.
        name: the HTTPRoute's name. Default: ``"frontend-route"``.
        section_name: the Gateway listener to attach to. Default: every listener that
            allows the route.
        hostnames: the hosts the rules apply to (``*.`` wildcards allowed). Default: the
            listener's hostnames.
        data_plane_namespace: the namespace of the Gateway's data-plane pods, which the
            NetworkPolicies let in to each backend. Default: ``gateway_namespace``.
        data_plane_labels: the labels of those pods. Default:
            ``gateway.networking.k8s.io/gateway-name: <gateway_name>`` (GEP-1762).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        gateway_name: str,
        gateway_namespace: str,
        name: str = "frontend-route",
        section_name: str | None = None,
        hostnames: Sequence[str] = (),
        data_plane_namespace: str | None = None,
        data_plane_labels: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._name = check_dns_subdomain("name", name)
        check_dns_subdomain("gateway_name", gateway_name)
        check_dns_label("gateway_namespace", gateway_namespace)
        if section_name is not None:
            check_dns_subdomain("section_name", section_name)
        if isinstance(hostnames, str) or len(hostnames) > 16:
            raise ValueError(
                f"hostnames={hostnames!r} is not allowed: expected a list of at most 16 hosts"
            )
        for host in hostnames:
            check_host("hostnames entry", host)
        self._data_plane_namespace = check_dns_label(
            "data_plane_namespace", data_plane_namespace or gateway_namespace
        )
        if data_plane_labels is not None:
            check_labels("data_plane_labels", data_plane_labels)
        labels = (
            {GATEWAY_NAME_LABEL: gateway_name}
            if data_plane_labels is None
            else dict(data_plane_labels)
        )
        if not labels:
            raise ValueError(
                f"data_plane_labels={data_plane_labels!r} is not allowed: expected a non-empty "
                "map of label keys to values, which selects the Gateway's data-plane pods"
            )
        self._data_plane_labels = labels
        self._parent = _gateway.HttpRouteSpecParentRefs(
            group=GATEWAY_GROUP,
            kind="Gateway",
            name=gateway_name,
            namespace=gateway_namespace,
            section_name=section_name,
        )
        self._hostnames = list(hostnames) or None
        self._paths: list[str] = []
        self._rules: dict[str, Any] = {}
        self._allowed: set[tuple[str | None, str]] = set()
        labels = _pod.object_labels(name, "gateway-route")
        self._namespace = _bulk.define(self, {"Resource": self._http_route(labels)})

    @property
    def name(self) -> str:
        """The HTTPRoute's name."""
        return self._name

    @property
    def paths(self) -> tuple[str, ...]:
        """The routed path prefixes, in manifest order (most specific first)."""
        return tuple(self._paths)

    @property
    def http_route(self) -> cdk8s.ApiObject:
        """The HTTPRoute (construct id ``Resource``), for JSON patches."""
        return _bulk.api_object(self, "Resource")

    def route(self, path: str, backend: Route) -> None:
        """Send requests under ``path`` (a ``PathPrefix``) to ``backend``'s Service.

        Raises:
            ValueError: the path is malformed or already routed (a trailing slash aside), the
                route has ``MAX_RULES`` rules, or the backend is not a construct or lives in
                a chart without a namespace.
        """
        check_path("path", path)
        for earlier in self._paths:
            if elements(earlier) == elements(path):
                raise ValueError(
                    f"path={path!r} is routed twice in HTTPRoute {self._name!r} "
                    f"(already as {earlier!r}): expected each path prefix once"
                )
        if len(self._paths) == MAX_RULES:
            raise ValueError(
                f"path={path!r} is not allowed: HTTPRoute {self._name!r} already has "
                f"{MAX_RULES} rules, the most the Gateway API allows"
            )
        target = _resolve(backend)
        namespaces = self._namespaces(target)
        namespace = None if namespaces is None else namespaces[1]
        labels = _pod.object_labels(self._name, "gateway-route")
        rule = _json(
            _gateway.HttpRouteSpecRules(
                matches=[
                    _gateway.HttpRouteSpecRulesMatches(
                        path=_gateway.HttpRouteSpecRulesMatchesPath(
                            type=_gateway.HttpRouteSpecRulesMatchesPathType.PATH_PREFIX,
                            value=path,
                        )
                    )
                ],
                backend_refs=[
                    _gateway.HttpRouteSpecRulesBackendRefs(
                        name=target.service_name, namespace=namespace, port=target.service_port
                    )
                ],
            )
        )
        index = sorted([*self._paths, path], key=specificity).index(path)
        if (namespace, target.name) not in self._allowed:
            backend_objects = self._backend_objects(target, namespaces, labels)
            if namespaces is None:
                _bulk.define(self, backend_objects)
            else:  # the other namespace's objects go to the backend's own chart
                elsewhere = [(target.scope, id, body) for id, body in backend_objects.items()]
                _bulk.define(self, {}, elsewhere=elsewhere)
        self._paths.insert(index, path)
        self._rules[path] = rule
        self._allowed.add((namespace, target.name))

    def _namespaces(self, target: _Target) -> tuple[str, str] | None:
        """The route's and the backend's namespaces if they differ; ``None`` if they match."""
        ours = self._namespace
        theirs = target.namespace
        if ours == theirs:
            return None
        if ours is None or theirs is None:
            raise ValueError(
                f"backend {target.name!r} is not allowed: it belongs to another chart, and an "
                f"HTTPRoute can reach it only when both charts set a namespace (route: {ours!r}, "
                f"backend: {theirs!r})"
            )
        return None if ours == theirs else (ours, theirs)

    def _http_route(self, labels: Mapping[str, str]) -> _bulk.Typed:
        """The HTTPRoute; its rules are rendered at synth, most specific first."""
        props = _gateway.HttpRouteProps(
            metadata=cdk8s.ApiObjectMetadata(name=self._name, labels=dict(labels)),
            spec=_gateway.HttpRouteSpec(
                hostnames=self._hostnames, parent_refs=[self._parent], rules=[]
            ),
        )
        body = _json(props)
        spec = body["spec"]
        body["spec"] = _bulk.lazy(lambda: {**spec, "rules": [self._rules[p] for p in self._paths]})
        api_version, kind = HTTP_ROUTE
        return _bulk.Typed(_gateway.HttpRoute, {"apiVersion": api_version, "kind": kind, **body})

    def _backend_objects(
        self, target: _Target, namespaces: tuple[str, str] | None, labels: Mapping[str, str]
    ) -> dict[str, Any]:
        """The NetworkPolicy that lets the data plane in, and a ReferenceGrant if needed; their
        ids, for the backend's scope in another namespace, and their names, for a backend
        that other routes reach too, name this route (and its namespace, from another one)."""
        suffix = target.name if namespaces is None else f"{namespaces[0]}-{self._name}"
        route = self._name if namespaces is None else f"{namespaces[0]}-{self._name}"
        policy_name = check_dns_subdomain("backend policy name", f"{target.name}-from-{route}")
        peer = k8s.NetworkPolicyPeer(
            namespace_selector=_network.in_namespace(self._data_plane_namespace),
            pod_selector=k8s.LabelSelector(match_labels=dict(self._data_plane_labels)),
        )
        policy = _network.allow(
            direction="Ingress",
            name=policy_name,
            pods=k8s.LabelSelector(match_labels=dict(target.pod_labels)),
            peers=[peer],
            port=target.container_port,
            labels=labels,
        )
        objects: dict[str, Any] = {f"AllowGateway-{suffix}": policy}
        if namespaces is not None:
            ours, namespace = namespaces
            objects[f"AllowGateway-{suffix}"] = k8s.KubeNetworkPolicyProps(
                metadata=k8s.ObjectMeta(name=policy_name, namespace=namespace, labels=dict(labels)),
                spec=policy.spec,
            )
            api_version, kind = REFERENCE_GRANT
            grant = _gateway.ReferenceGrantProps(
                metadata=cdk8s.ApiObjectMetadata(
                    name=check_dns_subdomain(
                        "reference grant name", f"{route}-to-{target.service_name}"
                    ),
                    namespace=namespace,
                    labels=dict(labels),
                ),
                spec=_gateway.ReferenceGrantSpec(
                    from_=[
                        _gateway.ReferenceGrantSpecFrom(
                            group=GATEWAY_GROUP,
                            kind=HTTP_ROUTE[1],
                            namespace=ours,
                        )
                    ],
                    to=[
                        _gateway.ReferenceGrantSpecTo(
                            group="", kind="Service", name=target.service_name
                        )
                    ],
                ),
            )
            objects[f"Grant-{suffix}"] = _bulk.Typed(
                _gateway.ReferenceGrant, {"apiVersion": api_version, "kind": kind, **_json(grant)}
            )
        return objects
