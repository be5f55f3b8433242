"""What the constructs relate to: their own tiers, cdk8s-plus workloads, Services and selectors."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import cdk8s
import jsii
from constructs import Construct

from . import _bulk, _pod
from ._base import JournalConstruct
from ._kplus import kplus
from ._network import Pods, object_name
from .rules import TEMPLATE_PATHS, get


class _Unknown:
    """A namespace not looked up yet."""


UNKNOWN = _Unknown()

_KNOWN: weakref.WeakKeyDictionary[Construct, str | None] = weakref.WeakKeyDictionary()
"""The chart namespace of each scope whose namespace a construct under it learned: the
constructs a ``JournalService`` makes share one look-up."""


@jsii.implements(kplus.IPodSelector, kplus.INetworkPolicyPeer)
class SelectablePods(JournalConstruct):
    """A construct whose pods cdk8s-plus can select and name as a network peer.

    It is a ``kplus.IPodSelector`` and a ``kplus.INetworkPolicyPeer``: a kplus workload's
    ``connections.allow_to(it)``, ``allow_from(it)`` or a ``kplus.NetworkPolicy`` peer select
    exactly its pods, in its chart's namespace.
    """

    def __init__(self, scope: Construct, id: str, *, name: str) -> None:
        super().__init__(scope, id)
        self._scope = scope
        self._name = name
        self._pod_labels = _pod.selector_labels(name)
        self._namespace: str | _Unknown | None = _KNOWN.get(scope, UNKNOWN)

    @property
    def name(self) -> str:
        """The workload's name."""
        return self._name

    @property
    def pod_labels(self) -> Mapping[str, str]:
        """The labels that select the workload's pods."""
        return MappingProxyType(self._pod_labels)

    @property
    def namespace(self) -> str | None:
        """The namespace of its chart (``None`` when the chart sets none)."""
        if isinstance(self._namespace, _Unknown):
            lookup(self)
        assert not isinstance(self._namespace, _Unknown)
        return self._namespace

    def _learn(self, namespace: str | None) -> None:
        """Keep ``namespace`` as its chart's, for it and every construct of its scope."""
        self._namespace = _KNOWN[self._scope] = namespace

    def pods(self) -> Pods:
        """Its pods, for NetworkPolicies."""
        return Pods(self._name, self, self.namespace, self._pod_labels)

    def to_pod_selector_config(self) -> kplus.PodSelectorConfig:
        """Its pods, for cdk8s-plus: their labels and namespace."""
        namespace = self.namespace
        return kplus.PodSelectorConfig(
            label_selector=kplus.LabelSelector.of(labels=dict(self._pod_labels)),
            namespaces=None
            if namespace is None
            else kplus.NamespaceSelectorConfig(names=[namespace]),
        )

    def to_network_policy_peer_config(self) -> kplus.NetworkPolicyPeerConfig:
        """Its pods as a NetworkPolicy peer, for cdk8s-plus."""
        return kplus.NetworkPolicyPeerConfig(pod_selector=self.to_pod_selector_config())

    def to_pod_selector(self) -> kplus.IPodSelector | None:
        """Itself: its pods are what it selects."""
        return self


def lookup(*constructs: SelectablePods) -> None:
    """Learn the namespaces of ``constructs`` that do not know theirs, in one round trip (none
    for a construct whose parent is that of one that knows: they share its chart)."""
    for construct in constructs:
        if isinstance(construct._namespace, _Unknown) and construct._scope in _KNOWN:
            construct._namespace = _KNOWN[construct._scope]
    unknown = [c for c in constructs if isinstance(c._namespace, _Unknown)]
    if unknown:
        for construct, namespace in zip(unknown, _bulk.namespaces(*unknown), strict=True):
            construct._learn(namespace)


_WHAT = (
    "expected a journal construct or Workload (a construct with name and pod_labels), a "
    "cdk8s-plus workload, pod selector (kplus.IPodSelector) or Service, or an L1 workload "
    "(cdk8s.ApiObject of a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob or Pod)"
)


def pods_of(peer: Any, argument: str) -> Pods:
    """The pods of ``peer``: what ``Peer`` names.

    As in cdk8s-plus, a workload's pods are those its selector picks, in its namespace: a
    ``Workload``'s ``pod_labels`` in its chart's namespace; an L1 workload's ``spec.selector``
    (a Job's or CronJob's pod template labels, a Pod's own labels) in its namespace.

    Raises:
        TypeError: ``peer`` is none of those, naming what it lacks.
        ValueError: its pods cannot be named by a NetworkPolicy.
    """
    if isinstance(peer, SelectablePods):
        return peer.pods()
    if isinstance(peer, cdk8s.ApiObject):
        return _api_object_pods(peer, argument)
    if isinstance(peer, Construct) and hasattr(peer, "pod_labels"):
        (namespace,) = _bulk.namespaces(peer)
        name = getattr(peer, "name", None)
        labels = dict(peer.pod_labels)
        if not labels:
            raise ValueError(
                f"{argument}={peer.node.path} is not allowed: its pod_labels are empty"
            )
        return Pods(
            object_name(name if isinstance(name, str) else peer.node.id), peer, namespace, labels
        )
    found = _describe(peer, argument)
    if "service" in found:
        return _service_pods(peer, found, argument)
    if "selector" not in found:
        raise TypeError(f"{argument}={peer.node.path} is not allowed: {_WHAT}")
    namespaces = found["namespaces"]
    if found["namespacesByLabel"] or (namespaces is not None and len(namespaces) != 1):
        raise ValueError(
            f"{argument}={found['path']} is not allowed: it selects pods in namespaces "
            f"{namespaces or 'chosen by label'}; expected pods of one named namespace"
        )
    selector = found["selector"]
    return Pods(
        object_name(found["name"] or peer.node.id),
        peer,
        namespaces[0] if namespaces else found["namespace"],
        selector.get("matchLabels", {}),
        selector.get("matchExpressions", ()),
    )


def _api_object_pods(peer: cdk8s.ApiObject, argument: str) -> Pods:
    """The pods an L1 workload runs: its selector (or pod template labels) in its namespace."""
    manifest: dict[str, Any] = peer.to_json()
    kind = manifest.get("kind")
    metadata = manifest.get("metadata") or {}
    if kind == "Pod":
        selector: dict[str, Any] = {"matchLabels": metadata.get("labels") or {}}
    elif kind in TEMPLATE_PATHS:
        template = TEMPLATE_PATHS[kind]
        template_labels = get(manifest, *template, "metadata", "labels")
        # A Job's selector is generated by the API server unless set: its pods carry the
        # template's labels. The selector is beside the template (a CronJob's in its job's).
        selector = get(manifest, *template[:-1], "selector") or {
            "matchLabels": template_labels or {}
        }
    else:
        raise TypeError(f"{argument}={peer.node.path} (a {kind}) is not allowed: {_WHAT}")
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        raise ValueError(
            f"{argument}={peer.node.path} is not allowed: {kind} {metadata.get('name')!r} "
            "selects its pods by no label; give it a selector (or pod labels)"
        )
    return Pods(
        object_name(metadata.get("name") or peer.node.id),
        peer,
        metadata.get("namespace"),
        selector.get("matchLabels") or {},
        selector.get("matchExpressions") or (),
    )


@dataclass(frozen=True)
class ServiceTarget:
    """A Service a route can send requests to, and the pods behind it."""

    name: str
    port: int
    target_port: int | str
    pods: Pods


def service_of(backend: Any, argument: str) -> ServiceTarget:
    """The Service of ``backend``: a journal tier, a ``kplus.Service``, or any construct with
    ``service_name``, ``service_port``, ``container_port`` and ``pod_labels``.

    Raises:
        TypeError: naming what ``backend`` lacks.
    """
    if isinstance(backend, kplus.Service):
        found = _describe(backend, argument)
        ports = found["service"]["ports"]
        if len(ports) != 1:
            why = (
                "it is an ExternalName Service (no port in its manifest, no pods to let the "
                "traffic reach); expected a Service that selects pods, with one port"
                if backend.type == kplus.ServiceType.EXTERNAL_NAME
                else f"it has {len(ports)} ports; expected exactly one to route to"
            )
            raise TypeError(f"{argument}=Service {found['path']} is not allowed: {why}")
        port = ports[0]
        return ServiceTarget(
            backend.name,
            port["port"],
            port.get("targetPort", port["port"]),
            _service_pods(backend, found, argument),
        )
    wanted = ("service_name", "service_port", "container_port", "pod_labels")
    missing = [a for a in wanted if not hasattr(backend, a)]
    if not isinstance(backend, Construct):
        missing.append("a construct scope (it must be a construct)")
    if missing:
        what = getattr(getattr(backend, "node", None), "path", None) or type(backend).__name__
        hint = (
            " (a cdk8s-plus workload: expose it with expose_via_service() and route the Service)"
            if hasattr(backend, "expose_via_service")
            else ""
        )
        raise TypeError(f"{argument}={what} is not a backend{hint}: it lacks {', '.join(missing)}")
    if isinstance(backend, SelectablePods):
        pods = backend.pods()
    else:
        (namespace,) = _bulk.namespaces(backend)
        pods = Pods(object_name(backend.service_name), backend, namespace, backend.pod_labels)
    return ServiceTarget(backend.service_name, backend.service_port, backend.container_port, pods)


def _service_pods(service: Construct, found: dict[str, Any], argument: str) -> Pods:
    labels = found["service"]["selector"]
    if not labels:
        raise ValueError(f"{argument}: Service {found['path']} selects no pods")
    return Pods(object_name(found["name"] or service.node.id), service, found["namespace"], labels)


def _describe(peer: Any, argument: str) -> dict[str, Any]:
    if not isinstance(peer, Construct):
        raise TypeError(
            f"{argument}={peer!r} is not allowed: expected a construct (a journal tier, a "
            "cdk8s-plus workload, pod selector or Service)"
        )
    (found,) = _bulk.describe(peer)
    return found
