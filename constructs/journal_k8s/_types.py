"""Value types shared by the constructs: resources, secret references, TLS, routing roles."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import ClassVar, Protocol, TypeVar

import cdk8s
from constructs import IConstruct, Node

from ._kplus import k8s, kplus
from .grammar import (
    DNS_LABEL_MAX,
    DNS_SUBDOMAIN_MAX,
    HTTP_PATH,
    IMAGE_REFERENCE,
    LABEL_KEY_EXPECTED,
    LABEL_VALUE,
    LABEL_VALUE_EXPECTED,
    PERCENT,
    QUANTITY,
    SECRET_KEY,
    WHOLE_QUANTITY,
    duration_seconds,
    is_dns_1035_label,
    is_dns_label,
    is_dns_subdomain,
    is_host,
    is_label_key,
    is_path,
    quantity_value,
)
from .rules import refused, shown

MIN_BYTES = Fraction(1024**2)
"""The least memory or storage a construct takes: 1Mi (no container starts with less)."""


def check_dns_label(argument: str, value: str, *, max_length: int = DNS_LABEL_MAX) -> str:
    """Return ``value`` if it is a DNS-1123 label of at most ``max_length`` characters.

    Raises:
        ValueError: naming the argument, the value and what is allowed.
    """
    if not is_dns_label(value, max_length=max_length):
        raise refused(
            argument,
            value,
            f"a DNS-1123 label of at most "
            f"{max_length} characters (lower-case letters, digits and '-', starting and "
            "ending with a letter or digit)",
        )
    return value


def check_service_name(argument: str, value: str, *, max_length: int = DNS_LABEL_MAX) -> str:
    """Return ``value`` if it can name a Service: a DNS-1035 label (it starts with a letter)."""
    check_dns_label(argument, value, max_length=max_length)
    if not is_dns_1035_label(value):
        raise ValueError(
            f"{argument}={value!r} is not allowed: it names a Service, so it must start with a "
            "letter (DNS-1035 label)"
        )
    return value


def check_name_fits(argument: str, name: str, derived: str, what: str) -> None:
    """Refuse ``name`` when ``derived``, the name it gives ``what`` (a Service, a label
    value), is longer than the ``DNS_LABEL_MAX`` characters both allow."""
    if len(derived) > DNS_LABEL_MAX:
        raise ValueError(
            f"{argument}={shown(name)} is not allowed: it names {what} {shown(derived)}, "
            f"{len(derived)} characters where at most {DNS_LABEL_MAX} are allowed; expected a "
            f"name of at most {DNS_LABEL_MAX - len(derived) + len(name)} characters"
        )


def check_image(argument: str, value: str) -> str:
    """Return ``value`` if it is an image reference pinned to a tag or digest other than latest."""
    if not isinstance(value, str) or not re.fullmatch(IMAGE_REFERENCE, value):
        raise refused(
            argument,
            value,
            "an image reference '[registry[:port]/]path:tag', '...@sha256:<digest>' or "
            "'...:tag@sha256:<digest>'",
        )
    if value.endswith(":latest"):
        raise refused(
            argument,
            value,
            "a pinned tag or digest (not latest), "
            "since pods pull it with imagePullPolicy IfNotPresent",
        )
    return value


def check_host(argument: str, value: str) -> str:
    """Return ``value`` if it is a host an Ingress or HTTPRoute accepts (``*.`` allowed)."""
    if not is_host(value):
        raise refused(
            argument,
            value,
            "a DNS name, optionally with a '*.' wildcard prefix (no IP address, no port)",
        )
    return value


def check_duration(argument: str, value: str) -> str:
    """Return ``value`` if it is a Prometheus duration greater than zero (``30s``, ``1m``)."""
    try:
        positive = duration_seconds(value) > 0
    except ValueError:
        positive = False
    if not positive:
        raise refused(
            argument,
            value,
            "a Prometheus duration above zero, such as '15s', '1m' or '1m30s' (units h, m, s, ms)",
        )
    return value


def check_http_path(argument: str, value: str) -> str:
    """Return ``value`` if it is an HTTP path of ``HTTP_PATH`` (``/metrics``)."""
    if not isinstance(value, str) or not re.fullmatch(HTTP_PATH, value):
        raise refused(
            argument,
            value,
            "a path starting with '/', of at most 256 printable ASCII characters (no spaces)",
        )
    return value


def check_dns_subdomain(argument: str, value: str) -> str:
    """Return ``value`` if it is a DNS-1123 subdomain (``grammar.is_dns_subdomain``)."""
    if not is_dns_subdomain(value):
        raise refused(
            argument,
            value,
            f"a DNS-1123 subdomain of at most {DNS_SUBDOMAIN_MAX} characters (lower-case labels "
            "separated by '.')",
        )
    return value


def check_quantity(argument: str, value: str) -> str:
    """Return ``value`` if it is a Kubernetes resource quantity greater than zero."""
    if (
        not isinstance(value, str)
        or not re.fullmatch(QUANTITY, value)
        or quantity_value(value) <= 0
    ):
        raise refused(
            argument,
            value,
            "a positive Kubernetes quantity such as '500m', '1', '1G', '256Mi', '10Gi' or '1e3'",
        )
    return value


def check_path(argument: str, value: str) -> str:
    """Return ``value`` if it is a prefix path that Ingress and HTTPRoute accept (``is_path``)."""
    if not is_path(value):
        raise refused(
            argument,
            value,
            "an absolute URL path like "
            "'/api' of at most 1024 characters, without empty, '.' or '..' elements, '%2F' or '#'",
        )
    return value


def check_bytes(argument: str, value: str) -> str:
    """Return ``value`` if it is a quantity of memory or storage: bytes, at least 1Mi."""
    if (
        not isinstance(value, str)
        or not re.fullmatch(WHOLE_QUANTITY, value)
        or quantity_value(value) < MIN_BYTES
    ):
        raise refused(
            argument,
            value,
            "a quantity of bytes of at "
            "least 1Mi such as '256Mi', '1G' or '10Gi' (no 'm' suffix: that is a thousandth "
            "of a byte)",
        )
    return value


def check_labels(argument: str, value: Mapping[str, str], *, annotations: bool = False) -> None:
    """Refuse ``value`` unless it maps label keys to label values (any text for annotations).

    Raises:
        TypeError: ``value`` is not a mapping, or a key or value is not a string.
        ValueError: a key or value does not follow the Kubernetes label grammar.
    """
    if not isinstance(value, Mapping):
        raise TypeError(f"{argument}={shown(value)} is not allowed: expected a mapping")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(
                f"{argument}: {shown(key)}: {shown(item)} is not allowed: expected string keys "
                "and string values (quote numbers and booleans: '3', 'true')"
            )
        if not is_label_key(key):
            raise ValueError(
                f"{argument}: key {shown(key)} is not allowed: expected {LABEL_KEY_EXPECTED}"
            )
        if not annotations and not re.fullmatch(LABEL_VALUE, item):
            raise ValueError(
                f"{argument}: {key}={shown(item)} is not allowed: expected a label value, "
                f"{LABEL_VALUE_EXPECTED}"
            )


_T = TypeVar("_T")
_D = TypeVar("_D")


def check_instance(argument: str, value: _T | None, kind: type[_T], default: _D) -> _T | _D:
    """Return ``value`` if it is a ``kind``, ``default`` if it is ``None`` (which may be
    ``None`` itself, for an optional argument).

    Raises:
        TypeError: naming the argument, the value and the type expected.
    """
    return default if value is None else check_type(argument, value, kind)


def check_type(argument: str, value: object, kind: type[_T]) -> _T:
    """Return ``value`` if it is a ``kind`` (of this library, or cdk8s-plus's).

    Raises:
        TypeError: naming the argument, the value and the type expected.
    """
    if not isinstance(value, kind):
        package = "kplus" if kind.__module__.startswith("cdk8s_plus") else "journal_k8s"
        raise TypeError(
            f"{argument}={shown(value)} is not allowed: expected {package}.{kind.__name__}"
        )
    return value


@dataclass(frozen=True)
class IntRange:
    """The integers an argument takes: from ``minimum``, up to ``maximum`` when one is set;
    ``None`` too when ``optional``."""

    minimum: int = 1
    maximum: int | None = None
    optional: bool = False

    def check(self, argument: str, value: int | None) -> int | None:
        """Return ``value`` if it is an integer in the range (or ``None``, when optional)."""
        if value is None and self.optional:
            return value
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < self.minimum
            or (self.maximum is not None and value > self.maximum)
        ):
            expected = (
                f"an integer >= {self.minimum}"
                if self.maximum is None
                else f"an integer from {self.minimum} to {self.maximum}"
            )
            raise refused(argument, value, expected)
        return value


def check_positive(argument: str, value: int, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer of at least ``minimum``."""
    IntRange(minimum).check(argument, value)
    return value


def check_ranges(owner: str, settings: object, ranges: Mapping[str, IntRange]) -> None:
    """Check each attribute ``name`` of ``settings`` that ``ranges`` names, reported as
    ``<owner> <name>``."""
    for name, allowed in ranges.items():
        allowed.check(f"{owner} {name}", getattr(settings, name))


def check_port(argument: str, value: int, *, unprivileged: bool = False) -> int:
    """Return ``value`` if it is a TCP port number (1024 or more when ``unprivileged``)."""
    low = 1024 if unprivileged else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 65535:
        why = " (unprivileged)" if unprivileged else ""
        raise refused(argument, value, f"{low}..65535{why}")
    return value


@dataclass(frozen=True, kw_only=True)
class Resources:
    """CPU and memory a container requests, and its limits.

    Args:
        cpu: CPU quantity requested, e.g. ``"1"`` or ``"250m"``.
        memory: memory requested, in bytes, at least 1Mi, e.g. ``"1G"`` or ``"256Mi"``
            (``"512m"`` is refused: a thousandth of a byte).
        cpu_limit: the CPU limit, at least ``cpu``. Default: ``cpu`` (Guaranteed QoS).
        memory_limit: the memory limit, at least ``memory``. Default: ``memory``.
    """

    cpu: str
    memory: str
    cpu_limit: str | None = None
    memory_limit: str | None = None

    def __post_init__(self) -> None:
        for argument, request, limit, check in (
            ("cpu", self.cpu, self.cpu_limit, check_quantity),
            ("memory", self.memory, self.memory_limit, check_bytes),
        ):
            check(argument, request)
            if limit is None:
                continue
            check(f"{argument}_limit", limit)
            if quantity_value(limit) < quantity_value(request):
                raise ValueError(
                    f"{argument}_limit={limit!r} is not allowed: expected at least the "
                    f"request {argument}={request!r}"
                )


@dataclass(frozen=True, kw_only=True)
class Quota:
    """A namespace's totals over every pod and volume claim.

    Args:
        cpu: CPU, for requests and for limits (e.g. ``"4"``).
        memory: memory, for requests and for limits (e.g. ``"8Gi"``).
        storage: the requested storage of every claim together (e.g. ``"100Gi"``).
        pods: the number of pods.
    """

    cpu: str
    memory: str
    storage: str
    pods: int

    def __post_init__(self) -> None:
        check_quantity("quota cpu", self.cpu)
        check_bytes("quota memory", self.memory)
        check_bytes("quota storage", self.storage)
        check_positive("quota pods", self.pods)


@dataclass(frozen=True, kw_only=True)
class Autoscaling:
    """A HorizontalPodAutoscaler (``autoscaling/v2``) for a tier, on CPU (and memory) use.

    The tier's Deployment then has no ``spec.replicas``, so an apply or a GitOps sync never
    resets the count the autoscaler chose. A ``RestrictedNamespace`` quota must hold
    ``max_replicas`` pods plus the rollout surge (checked at synth).

    Args:
        min_replicas: the fewest pods.
        max_replicas: the most pods, at least ``min_replicas``.
        cpu_utilization: the average CPU use to keep, in percent of the pods' CPU requests
            (every container must request CPU). ``None`` scales on memory only. Default: 70.
        memory_utilization: the average memory use to keep, in percent of the pods' memory
            requests. Default: none (CPU only).
        scale_down_stabilization: seconds of recommendations the autoscaler looks back on
            before removing pods (0..3600), so a short dip does not shed pods. Default: 300.
    """

    min_replicas: int
    max_replicas: int
    cpu_utilization: int | None = 70
    memory_utilization: int | None = None
    scale_down_stabilization: int = 300

    RANGES: ClassVar[Mapping[str, IntRange]] = MappingProxyType(
        {
            "min_replicas": IntRange(1),
            "max_replicas": IntRange(1),
            "cpu_utilization": IntRange(1, optional=True),
            "memory_utilization": IntRange(1, optional=True),
            "scale_down_stabilization": IntRange(0, 3600),
        }
    )
    """The integers each argument takes (the values files and the Helm schema read them)."""

    def __post_init__(self) -> None:
        check_ranges("autoscaling", self, self.RANGES)
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"autoscaling max_replicas={self.max_replicas} is not allowed: expected at least "
                f"min_replicas={self.min_replicas}"
            )
        if self.cpu_utilization is None and self.memory_utilization is None:
            raise ValueError(
                "autoscaling cpu_utilization=None is not allowed without memory_utilization: "
                "expected a target for at least one of them"
            )


@dataclass(frozen=True, kw_only=True)
class DisruptionBudget:
    """How many of a tier's pods a voluntary disruption (a node drain) may take at once.

    Give exactly one of the two, as a number of pods or a percentage (``"50%"``, rounded up).

    Args:
        max_unavailable: the most pods down at once. Default: not this form.
        min_available: the fewest pods that stay up. Default: not this form.
    """

    max_unavailable: int | str | None = None
    min_available: int | str | None = None

    def __post_init__(self) -> None:
        given = [
            (argument, value)
            for argument, value in (
                ("max_unavailable", self.max_unavailable),
                ("min_available", self.min_available),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"budget {', '.join(f'{a}={v!r}' for a, v in given) or 'with neither'} is not "
                "allowed: expected exactly one of max_unavailable and min_available"
            )
        argument, value = given[0]
        if isinstance(value, str):
            if not re.fullmatch(PERCENT, value):
                raise ValueError(
                    f"budget {argument}={value!r} is not allowed: expected a number of pods "
                    "(>= 1) or a percentage '1%'..'100%'"
                )
        else:
            check_positive(f"budget {argument}", value)

    def form(self) -> tuple[str, int | str]:
        """``("maxUnavailable" or "minAvailable", value)``: the field it sets."""
        if self.max_unavailable is not None:
            return "maxUnavailable", self.max_unavailable
        assert self.min_available is not None
        return "minAvailable", self.min_available


@dataclass(frozen=True, kw_only=True)
class ExistingSecret:
    """A key of a Secret that exists in the namespace and is not managed by this synth.

    Args:
        name: the Secret's name.
        key: the key inside the Secret that holds the value.
    """

    name: str
    key: str

    def __post_init__(self) -> None:
        check_dns_subdomain("secret name", self.name)
        if not isinstance(self.key, str) or not re.fullmatch(SECRET_KEY, self.key):
            raise ValueError(
                f"secret key={self.key!r} is not allowed: expected letters, digits, '-', '_' or '.'"
            )


def check_secret(
    argument: str, value: ExistingSecret | kplus.SecretValue | None, default: ExistingSecret
) -> ExistingSecret:
    """``value`` as an ``ExistingSecret``: a cdk8s-plus ``SecretValue`` (a Secret and one of its
    keys) is taken as its Secret's name and key; ``default`` if it is ``None``.

    Raises:
        TypeError: naming the argument, the value and the types expected.
    """
    if isinstance(value, kplus.SecretValue):
        return ExistingSecret(name=value.secret.name, key=value.key)
    if value is None or isinstance(value, ExistingSecret):
        return value or default
    raise TypeError(
        f"{argument}={shown(value)} is not allowed: expected journal_k8s.ExistingSecret or "
        "kplus.SecretValue (a Secret and the key that holds the value)"
    )


def check_secret_value(argument: str, value: kplus.SecretValue, namespace: str | None) -> None:
    """Refuse a ``SecretValue`` whose Secret, made in this app, the pods of ``namespace`` cannot
    read: a Secret of another namespace, or one without the key. A Secret referenced by name
    (``kplus.Secret.from_secret_name``) lives in the cluster and passes.

    Raises:
        ValueError: naming the argument, the Secret and what is expected.
    """
    secret = value.secret
    if not isinstance(secret, kplus.Secret):
        return
    found = secret.metadata.namespace
    if found != namespace:
        raise ValueError(
            f"{argument}: Secret {shown(secret.name)} is in namespace {shown(found)}, which "
            f"the pods of namespace {shown(namespace)} cannot read: expected a Secret of "
            "their namespace"
        )
    if secret.get_string_data(value.key) is None:
        raise ValueError(
            f"{argument}: key {shown(value.key)} is not allowed: Secret {shown(secret.name)} "
            "has no such key (expected a key of its string data)"
        )


@dataclass(frozen=True, kw_only=True)
class IngressTls:
    """TLS for an Ingress host, with a certificate issued by cert-manager.

    Args:
        secret_name: the Secret that holds (or will hold) the certificate.
        cluster_issuer: the cert-manager ClusterIssuer; ``None`` adds no annotation
            (the certificate is then provided by other means).
    """

    secret_name: str
    cluster_issuer: str | None = None

    def __post_init__(self) -> None:
        check_dns_subdomain("tls secret_name", self.secret_name)
        if self.cluster_issuer is not None:
            check_dns_subdomain("tls cluster_issuer", self.cluster_issuer)


class Workload(Protocol):
    """A construct that runs pods: it has a name and the labels that select its pods.

    Its pods are those labels in its chart's namespace, as a cdk8s-plus workload's are its
    selector in its namespace; it must be a construct (``node``), so that the NetworkPolicies
    of a relation have a chart to live in.
    """

    @property
    def node(self) -> Node: ...

    @property
    def name(self) -> str: ...

    @property
    def pod_labels(self) -> Mapping[str, str]: ...


Peer = Workload | kplus.IPodSelector | kplus.INetworkPolicyPeer | kplus.Service | cdk8s.ApiObject
"""What a NetworkPolicy relation takes: a journal tier or any ``Workload``; a cdk8s-plus
workload, pod selector or Service; or an L1 workload (``k8s.KubeDeployment``, any
``cdk8s.ApiObject`` of a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob or Pod),
whose pods are those its own selector picks, in its namespace."""


class Backend(Workload, Protocol):
    """A workload behind a Service: the Service's name and port, and the pods' port."""

    @property
    def service_name(self) -> str: ...

    @property
    def service_port(self) -> int: ...

    @property
    def container_port(self) -> int: ...


Route = Backend | kplus.Service
"""What a path route sends requests to: a construct with a Service, or a ``kplus.Service``."""


@dataclass(frozen=True, kw_only=True)
class PodOptions:
    """Typed additions to a workload's pods, for what the constructs do not decide.

    Every name must differ from the workload's own (its containers, volumes, mounts,
    environment variables and selector labels); a clash is refused.

    Args:
        env: more environment variables of the main container (values, or keys of
            ConfigMaps and Secrets through ``value_from``). Default: none.
        env_from: whole ConfigMaps or Secrets as environment variables of the main container.
            Default: none.
        volumes: more pod volumes. Default: none.
        volume_mounts: more mounts of the main container. Default: none.
        sidecars: more containers, after the main one. Default: none.
        init_containers: containers that run to completion before the others. Default: none.
        tolerations: taints the pods tolerate. Default: none.
        node_selector: node labels the pods require. Default: any node.
        affinity: node and pod (anti-)affinity. Default: none.
        topology_spread: the pods' topology spread constraints. Default: a soft spread
            over nodes (``kubernetes.io/hostname``, ``ScheduleAnyway``).
        labels: more pod labels (never part of a selector); keys and values follow the
            Kubernetes label grammar, values are strings. Default: none.
        annotations: more pod annotations (string values). Default: none.
        service_account_name: the pods' service account. Default: the namespace's default.
        automount_service_account_token: mount the service account's API token.
            Default: ``False`` (the journal's pods never call the Kubernetes API).
        image_pull_secrets: names of Secrets (``kubernetes.io/dockerconfigjson``) in the
            namespace with the credentials of private registries. Default: none.
        priority_class_name: the pods' PriorityClass. Default: the cluster's default priority.
        readiness_gates: conditions that must also be true for the pods to be ready.
            Default: none.
    """

    env: Sequence[k8s.EnvVar] = ()
    env_from: Sequence[k8s.EnvFromSource] = ()
    volumes: Sequence[k8s.Volume] = ()
    volume_mounts: Sequence[k8s.VolumeMount] = ()
    sidecars: Sequence[k8s.Container] = ()
    init_containers: Sequence[k8s.Container] = ()
    tolerations: Sequence[k8s.Toleration] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    affinity: k8s.Affinity | None = None
    topology_spread: Sequence[k8s.TopologySpreadConstraint] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    service_account_name: str | None = None
    automount_service_account_token: bool = False
    image_pull_secrets: Sequence[str] = ()
    priority_class_name: str | None = None
    readiness_gates: Sequence[k8s.PodReadinessGate] = ()

    def __post_init__(self) -> None:
        if self.service_account_name is not None:
            check_dns_subdomain("service_account_name", self.service_account_name)
        if self.priority_class_name is not None:
            check_dns_subdomain("priority_class_name", self.priority_class_name)
        if not _is_sequence(self.image_pull_secrets):
            raise TypeError(
                f"image_pull_secrets={self.image_pull_secrets!r} is not allowed: expected a "
                "sequence (a list or tuple) of Secret names"
            )
        for secret in self.image_pull_secrets:
            check_dns_subdomain("image_pull_secrets entry", secret)
        check_labels("labels", self.labels)
        check_labels("annotations", self.annotations, annotations=True)
        check_labels("node_selector", self.node_selector)
        for argument, items, kind in (
            ("env", self.env, k8s.EnvVar),
            ("env_from", self.env_from, k8s.EnvFromSource),
            ("volumes", self.volumes, k8s.Volume),
            ("volume_mounts", self.volume_mounts, k8s.VolumeMount),
            ("sidecars", self.sidecars, k8s.Container),
            ("init_containers", self.init_containers, k8s.Container),
            ("tolerations", self.tolerations, k8s.Toleration),
            ("topology_spread", self.topology_spread or (), k8s.TopologySpreadConstraint),
            ("readiness_gates", self.readiness_gates, k8s.PodReadinessGate),
        ):
            if not _is_sequence(items) or not all(isinstance(i, kind) for i in items):
                raise TypeError(
                    f"{argument}={items!r} is not allowed: expected a sequence (a list or "
                    f"tuple) of k8s.{kind.__name__}"
                )

    def check_against(
        self,
        container: k8s.Container,
        volumes: Sequence[k8s.Volume],
        labels: Mapping[str, str],
        claimed: Sequence[str] = (),
    ) -> None:
        """Refuse a name that the workload already uses (``claimed``: the volumes of its claim
        templates), and a mount of a volume the pod does not have.

        Raises:
            ValueError: naming the option, the name and the workload's own names.
        """
        _check_new_names("env", [e.name for e in self.env], [e.name for e in container.env or ()])
        own_volumes = [*(v.name for v in volumes), *claimed]
        _check_new_names("volumes", [v.name for v in self.volumes], own_volumes)
        _check_new_names(
            "volume_mounts",
            [m.mount_path for m in self.volume_mounts],
            [m.mount_path for m in container.volume_mounts or ()],
        )
        _check_new_names(
            "sidecars",
            [c.name for c in [*self.sidecars, *self.init_containers]],
            [container.name],
        )
        _check_new_names("labels", list(self.labels), list(labels))
        defined = sorted({*own_volumes, *(v.name for v in self.volumes)})
        for mount in self.volume_mounts:
            if mount.name not in defined:
                raise ValueError(
                    f"pod volume_mounts: {mount.name!r} is not allowed: the pod has no such "
                    f"volume (expected one of {defined})"
                )
        for argument, containers in (
            ("sidecars", self.sidecars),
            ("init_containers", self.init_containers),
        ):
            for c in containers:
                for mount in c.volume_mounts or ():
                    if mount.name not in defined:
                        raise ValueError(
                            f"pod {argument}: {c.name!r} mounts {mount.name!r}, which is not a "
                            f"volume of the pod (expected one of {defined})"
                        )


def _is_sequence(items: object) -> bool:
    """Whether ``items`` is a list, a tuple or another sequence, not text (a generator is
    refused: checking its items would use them up)."""
    return isinstance(items, Sequence) and not isinstance(items, str | bytes)


def _check_new_names(argument: str, new: Sequence[str], own: Sequence[str]) -> None:
    taken = set(own)
    for name in new:
        if name in taken:
            raise ValueError(
                f"pod {argument}: {name!r} is not allowed: the workload already uses it "
                f"(its own: {sorted(own)}), or it is given twice"
            )
        taken.add(name)


DEFAULT_PROXY_IMAGE = "haproxy:2.6.12-alpine"
"""HAProxy 2.6 (LTS) on Alpine, pinned; its ``haproxy`` user is uid 99, gid 99."""


@dataclass(frozen=True, kw_only=True)
class Failover:
    """Automatic failover of a ``Redis``: Redis Sentinel in every pod, HAProxy in front.

    A sentinel runs beside each Redis server; when ``quorum`` of them find the master
    unreachable for ``down_after_ms``, they promote the best replica and repoint the others.
    The write Service then selects HAProxy pods that send every connection to the one server
    whose ``INFO replication`` says ``role:master``.

    Args:
        quorum: sentinels that must agree the master is down before a failover starts (the
            failover itself also needs a majority of all sentinels). Default: a majority of
            the Redis pods.
        down_after_ms: milliseconds without a valid reply before a sentinel deems the
            master down. Lower fails over sooner, and on shorter hiccups. Default: 5000.
        failover_timeout_ms: Sentinel's ``failover-timeout``: how long a failover may take
            before another sentinel retries it (after twice this). It also bounds the
            hand-over of a master whose pod is stopped (its ``preStop`` hook); the Redis
            pods' ``terminationGracePeriodSeconds`` is this, in whole seconds, plus 10.
            Default: 20000.
        min_replicas_to_write: the master refuses writes (``NOREPLICAS``) unless this many
            replicas are connected with a lag of at most ``min_replicas_max_lag`` seconds.
            It bounds the writes a master cut off from its replicas can accept (and lose at
            the next failover) to ``min_replicas_max_lag`` seconds' worth, at the price of
            refusing every write while fewer replicas are up. 0 turns it off. Default: 1.
        min_replicas_max_lag: seconds; see ``min_replicas_to_write``. Default: 10.
        check_interval_ms: how often HAProxy checks each Redis server's role. Default: 1000.
        proxy_replicas: HAProxy pods behind the write Service. Default: 2.
        proxy_image: HAProxy's image, 2.6 or later. Default: ``DEFAULT_PROXY_IMAGE``.
        proxy_resources: CPU and memory of each HAProxy pod. Default: 200m, 128Mi.
        sentinel_resources: CPU and memory of each sentinel container. Default: 100m, 64Mi.
        cluster_domain: the cluster's DNS domain; HAProxy resolves the Redis pods by
            fully qualified name. Default: ``"cluster.local"``.
    """

    quorum: int | None = None
    down_after_ms: int = 5000
    failover_timeout_ms: int = 20000
    min_replicas_to_write: int = 1
    min_replicas_max_lag: int = 10
    check_interval_ms: int = 1000
    proxy_replicas: int = 2
    proxy_image: str = DEFAULT_PROXY_IMAGE
    proxy_resources: Resources = field(
        default_factory=lambda: Resources(cpu="200m", memory="128Mi")
    )
    sentinel_resources: Resources = field(
        default_factory=lambda: Resources(cpu="100m", memory="64Mi")
    )
    cluster_domain: str = "cluster.local"

    RANGES: ClassVar[Mapping[str, IntRange]] = MappingProxyType(
        {
            "quorum": IntRange(1, optional=True),
            "down_after_ms": IntRange(100),
            "failover_timeout_ms": IntRange(1000),
            "min_replicas_to_write": IntRange(0),
            "min_replicas_max_lag": IntRange(1),
            "check_interval_ms": IntRange(100),
            "proxy_replicas": IntRange(1),
        }
    )
    """The integers each argument takes (the values files and the Helm schema read them)."""

    def __post_init__(self) -> None:
        check_ranges("failover", self, self.RANGES)
        check_image("failover proxy_image", self.proxy_image)
        for argument, resources in (
            ("failover proxy_resources", self.proxy_resources),
            ("failover sentinel_resources", self.sentinel_resources),
        ):
            check_type(argument, resources, Resources)
        check_dns_subdomain("failover cluster_domain", self.cluster_domain)

    def check_against(self, replicas: int) -> int:
        """The quorum for ``replicas`` Redis pods (every precondition on the pods is here).

        Raises:
            ValueError: too few pods for a failover, or a setting they cannot meet.
        """
        if replicas < 3:
            raise ValueError(
                f"replicas={replicas} is not allowed with failover: expected at least 3 (a "
                "majority of the sentinels must survive the loss of the master's pod)"
            )
        if self.min_replicas_to_write > replicas - 1:
            raise ValueError(
                f"failover min_replicas_to_write={self.min_replicas_to_write} is not allowed "
                f"with replicas={replicas}: expected 0..{replicas - 1} (the master would "
                "refuse every write)"
            )
        quorum = replicas // 2 + 1 if self.quorum is None else self.quorum
        if quorum > replicas:
            raise ValueError(
                f"failover quorum={quorum} is not allowed with replicas={replicas}: expected "
                f"1..{replicas} (one sentinel per Redis pod)"
            )
        return quorum

    def check_namespace(self, namespace: str | None, redis: IConstruct) -> str:
        """Return ``namespace``, the chart namespace of the Redis construct ``redis``.

        Raises:
            ValueError: it is ``None``: HAProxy resolves the Redis pods by fully qualified name.
        """
        return _chart_namespace(
            namespace,
            redis,
            "failover for Redis {path}",
            "HAProxy resolves the Redis pods by fully qualified name",
        )


def _chart_namespace(namespace: str | None, owner: IConstruct, setting: str, reason: str) -> str:
    """``namespace`` (the chart namespace of ``owner``), which ``setting`` (of ``owner``'s
    ``{path}``) needs for ``reason``."""
    if namespace is None:
        raise ValueError(
            f"{setting.format(path=owner.node.path)} is not allowed: its chart sets no "
            f"namespace, and {reason}; give the chart a namespace"
        )
    return namespace


DEFAULT_METRICS_INTERVAL = "30s"
"""How often Prometheus scrapes a tier, unless ``Metrics.interval`` says otherwise."""
DEFAULT_METRICS_PATH = "/metrics"
"""The HTTP path of every exporter's metrics, and the default of a scraped server's."""
DEFAULT_REDIS_EXPORTER_IMAGE = "oliver006/redis_exporter:v1.67.0-alpine"
"""redis_exporter on Alpine (its shell writes the password file), pinned: ``/redis_exporter``."""
DEFAULT_NGINX_EXPORTER_IMAGE = "nginx/nginx-prometheus-exporter:1.4.1"
"""NGINX's Prometheus exporter, pinned; binary ``/usr/bin/nginx-prometheus-exporter``."""


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """Prometheus metrics of a tier: exporter sidecars, a ServiceMonitor, alerts and policies.

    A ``Prometheus`` of the Prometheus Operator picks the ServiceMonitors and PrometheusRules
    up by ``monitor_labels``; its pods (``prometheus_namespace`` AND ``prometheus_labels``) are
    the only ones the NetworkPolicies let reach the metrics ports.

    Args:
        prometheus_namespace: the namespace of the Prometheus pods. Default: ``"monitoring"``.
        prometheus_labels: labels of the Prometheus pods. Default:
            ``app.kubernetes.io/name: prometheus`` (the label the Operator gives them).
        monitor_labels: labels of every ServiceMonitor and PrometheusRule, for the
            ``serviceMonitorSelector`` and ``ruleSelector`` of the ``Prometheus``.
            Default: none (a ``Prometheus`` that selects every one).
        interval: how often Prometheus scrapes. An alert holds for at least two scrapes
            before it fires (its ``for:`` is at least twice this). Default: ``"30s"``.
        exporter_resources: CPU and memory of each exporter sidecar. Default: 50m, 64Mi.
        redis_exporter_image: the Redis exporter sidecar's image (an Alpine build of
            oliver006/redis_exporter: its shell writes the password file).
            Default: ``DEFAULT_REDIS_EXPORTER_IMAGE``.
        nginx_exporter_image: the NGINX exporter sidecar's image (1.x: it starts before
            NGINX answers, and reports ``nginx_up 0`` meanwhile).
            Default: ``DEFAULT_NGINX_EXPORTER_IMAGE``.
        memory_ratio: the share of a Redis container's memory limit its resident memory may
            use before ``RedisMemoryNearLimit`` fires. Default: 0.9.
    """

    prometheus_namespace: str = "monitoring"
    prometheus_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"}
    )
    monitor_labels: Mapping[str, str] = field(default_factory=dict)
    interval: str = DEFAULT_METRICS_INTERVAL
    exporter_resources: Resources = field(
        default_factory=lambda: Resources(cpu="50m", memory="64Mi")
    )
    redis_exporter_image: str = DEFAULT_REDIS_EXPORTER_IMAGE
    nginx_exporter_image: str = DEFAULT_NGINX_EXPORTER_IMAGE
    memory_ratio: float = 0.9

    def __post_init__(self) -> None:
        check_dns_label("metrics prometheus_namespace", self.prometheus_namespace)
        check_labels("metrics prometheus_labels", self.prometheus_labels)
        if not self.prometheus_labels:
            raise ValueError(
                "metrics prometheus_labels={} is not allowed: expected at least one label (an "
                "empty selector would let every pod of that namespace in)"
            )
        check_labels("metrics monitor_labels", self.monitor_labels)
        check_duration("metrics interval", self.interval)
        if not isinstance(self.exporter_resources, Resources):
            raise TypeError(
                f"metrics exporter_resources={self.exporter_resources!r} is not allowed: "
                "expected journal_k8s.Resources"
            )
        check_image("metrics redis_exporter_image", self.redis_exporter_image)
        check_image("metrics nginx_exporter_image", self.nginx_exporter_image)
        ratio = self.memory_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio <= 1:
            raise ValueError(
                f"metrics memory_ratio={ratio!r} is not allowed: expected a number in (0, 1]"
            )

    def check_namespace(self, namespace: str | None, tier: IConstruct) -> str:
        """Return ``namespace``, the chart namespace of the construct ``tier``.

        Raises:
            ValueError: it is ``None``: the alerts count the tier's pods in its namespace.
        """
        return _chart_namespace(
            namespace,
            tier,
            "metrics for {path}",
            "its alerts count the pods of the tier in its namespace (a journal in another "
            "namespace would hide or raise them)",
        )
