"""Value types shared by the constructs: resources, secret references, TLS, routing roles."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def check_dns_label(argument: str, value: str, *, max_length: int = 63) -> str:
    """Return ``value`` if it is a DNS-1123 label of at most ``max_length`` characters.

    Raises:
        ValueError: naming the argument, the value and what is allowed.
    """
    if not isinstance(value, str) or len(value) > max_length or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{argument}={value!r} is not allowed: expected a DNS-1123 label of at most "
            f"{max_length} characters (lower-case letters, digits and '-', starting and "
            "ending with a letter or digit)"
        )
    return value


def check_service_name(argument: str, value: str, *, max_length: int = 63) -> str:
    """Return ``value`` if it can name a Service: a DNS-1035 label (it starts with a letter)."""
    check_dns_label(argument, value, max_length=max_length)
    if not value[0].isalpha():
        raise ValueError(
            f"{argument}={value!r} is not allowed: it names a Service, so it must start with a "
            "letter (DNS-1035 label)"
        )
    return value


def check_image(argument: str, value: str) -> str:
    """Return ``value`` if it is an image reference pinned to a tag or digest other than latest."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise ValueError(f"{argument}={value!r} is not allowed: expected an image reference")
    last = value.rsplit("/", 1)[-1]
    if "@" not in last and (":" not in last or last.endswith(":latest")):
        raise ValueError(
            f"{argument}={value!r} is not allowed: expected a pinned tag or digest (not latest), "
            "since pods pull it with imagePullPolicy IfNotPresent"
        )
    return value


def check_dns_subdomain(argument: str, value: str) -> str:
    """Return ``value`` if it is a DNS-1123 subdomain (at most 253 characters)."""
    if not isinstance(value, str) or len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            f"{argument}={value!r} is not allowed: expected a DNS-1123 subdomain of at most "
            "253 characters (lower-case labels separated by '.')"
        )
    return value


def check_quantity(argument: str, value: str) -> str:
    """Return ``value`` if it is a Kubernetes resource quantity greater than zero."""
    if (
        not isinstance(value, str)
        or not _QUANTITY.match(value)
        or float(re.sub(r"[a-zA-Z]+$", "", value)) <= 0
    ):
        raise ValueError(
            f"{argument}={value!r} is not allowed: expected a positive Kubernetes quantity "
            "such as '500m', '1', '1G', '256Mi' or '10Gi'"
        )
    return value


def check_positive(argument: str, value: int, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{argument}={value!r} is not allowed: expected an integer >= {minimum}")
    return value


def check_port(argument: str, value: int, *, unprivileged: bool = False) -> int:
    """Return ``value`` if it is a TCP port number (1024 or more when ``unprivileged``)."""
    low = 1024 if unprivileged else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 65535:
        why = " (unprivileged)" if unprivileged else ""
        raise ValueError(f"{argument}={value!r} is not allowed: expected {low}..65535{why}")
    return value


@dataclass(frozen=True, kw_only=True)
class Resources:
    """CPU and memory a container requests; the limits equal the requests (Guaranteed QoS).

    Args:
        cpu: CPU quantity, e.g. ``"1"`` or ``"250m"``.
        memory: memory quantity, e.g. ``"1G"`` or ``"256Mi"``.
    """

    cpu: str
    memory: str

    def __post_init__(self) -> None:
        check_quantity("cpu", self.cpu)
        check_quantity("memory", self.memory)


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
        check_quantity("quota memory", self.memory)
        check_quantity("quota storage", self.storage)
        check_positive("quota pods", self.pods)


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
        if len(self.key) > 253 or not _SECRET_KEY.match(self.key):
            raise ValueError(
                f"secret key={self.key!r} is not allowed: expected letters, digits, '-', '_' or '.'"
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
    """Something that runs pods: it has a name and the labels that select its pods."""

    @property
    def name(self) -> str: ...

    @property
    def pod_labels(self) -> Mapping[str, str]: ...


class Backend(Workload, Protocol):
    """A workload behind a Service: the Service's name and port, and the pods' port."""

    @property
    def service_name(self) -> str: ...

    @property
    def service_port(self) -> int: ...

    @property
    def container_port(self) -> int: ...
