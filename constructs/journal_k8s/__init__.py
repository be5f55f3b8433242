"""Typed cdk8s constructs for the journal service of *Kubernetes Best Practices*, chapter 1."""

from typing import TYPE_CHECKING

from ._bulk import chart_manifests
from ._capacity import problems as capacity_problems
from ._pod import (
    CONFIG_HASH_ANNOTATION,
    content_hash,
    restricted_container_security,
    restricted_pod_security,
)
from ._types import (
    DEFAULT_METRICS_INTERVAL,
    DEFAULT_METRICS_PATH,
    DEFAULT_NGINX_EXPORTER_IMAGE,
    DEFAULT_PROXY_IMAGE,
    DEFAULT_REDIS_EXPORTER_IMAGE,
    Autoscaling,
    Backend,
    DisruptionBudget,
    ExistingSecret,
    Failover,
    IngressTls,
    Metrics,
    Peer,
    PodOptions,
    Quota,
    Resources,
    Route,
    Workload,
)
from .api_frontend import ApiFrontend
from .journal_service import JournalService
from .path_ingress import PathIngress
from .path_route import PathRoute
from .redis import Redis
from .restricted import adopt_restricted
from .restricted_namespace import RestrictedNamespace
from .service_monitor import ServiceMonitor
from .static_site import StaticSite

__version__: str
"""The installed distribution's version (``journal-k8s`` in its package metadata), looked up
when first read rather than at every import (about 4 ms)."""

if not TYPE_CHECKING:  # type checkers see the annotation, and no catch-all attribute

    def __getattr__(name: str) -> str:
        if name == "__version__":
            from importlib.metadata import version

            return version("journal-k8s")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CONFIG_HASH_ANNOTATION",
    "DEFAULT_METRICS_INTERVAL",
    "DEFAULT_METRICS_PATH",
    "DEFAULT_NGINX_EXPORTER_IMAGE",
    "DEFAULT_PROXY_IMAGE",
    "DEFAULT_REDIS_EXPORTER_IMAGE",
    "ApiFrontend",
    "Autoscaling",
    "Backend",
    "DisruptionBudget",
    "ExistingSecret",
    "Failover",
    "IngressTls",
    "JournalService",
    "Metrics",
    "PathIngress",
    "PathRoute",
    "Peer",
    "PodOptions",
    "Quota",
    "Redis",
    "Resources",
    "RestrictedNamespace",
    "Route",
    "ServiceMonitor",
    "StaticSite",
    "Workload",
    "adopt_restricted",
    "capacity_problems",
    "chart_manifests",
    "content_hash",
    "restricted_container_security",
    "restricted_pod_security",
]
