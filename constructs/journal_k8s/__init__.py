"""Typed cdk8s constructs for the journal service of *Kubernetes Best Practices*, chapter 1."""

from ._types import Backend, ExistingSecret, IngressTls, Resources, Workload
from .api_frontend import ApiFrontend
from .journal_service import JournalService
from .path_ingress import PathIngress
from .redis import Redis
from .static_site import StaticSite

__all__ = [
    "ApiFrontend",
    "Backend",
    "ExistingSecret",
    "IngressTls",
    "JournalService",
    "PathIngress",
    "Redis",
    "Resources",
    "StaticSite",
    "Workload",
]
