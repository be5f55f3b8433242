"""JournalService: the whole chapter-1 service, wired: Redis, API, static site and Ingress."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping

from constructs import Construct

from . import api_frontend, redis, static_site
from ._base import JournalConstruct
from ._kplus import kplus
from ._types import (
    DEFAULT_METRICS_PATH,
    Autoscaling,
    DisruptionBudget,
    ExistingSecret,
    Failover,
    IngressTls,
    Metrics,
    PodOptions,
    Resources,
    check_instance,
    check_service_name,
)
from .api_frontend import ApiFrontend
from .path_ingress import PathIngress
from .path_route import PathRoute
from .redis import Redis
from .rules import argument_of
from .static_site import StaticSite


class JournalService(JournalConstruct):
    """The journal service: ``/api`` goes to the API, ``/`` to the static site, data to Redis.

    Every argument has the book's value (with its defects fixed) as default, so
    ``JournalService(chart, "Journal")`` is the chapter's deployment. Routes can be added to
    ``journal.ingress`` afterwards, in any order.

    Args:
        scope: the parent construct, normally a ``cdk8s.Chart`` whose namespace it uses.
        id: the construct id.
        name: a prefix for every object's name, so that several journals share a namespace:
            ``<name>-redis``, ``<name>-frontend``, ``<name>-fileserver`` and
            ``<name>-ingress``. Default: the book's names (``redis``, ``frontend``,
            ``fileserver``, ``frontend-ingress``).
        frontend_image: the API image. Default: ``api_frontend.DEFAULT_IMAGE``.
        frontend_replicas: API pods, without ``frontend_autoscaling``. Default: 2.
        frontend_resources: CPU and memory of each API pod. Default: 1 CPU, 1G.
        journal_entries: the API's ``journalEntries`` setting. Default: 10.
        static_image: the NGINX image with the site. Default: ``static_site.DEFAULT_IMAGE``.
        static_replicas: NGINX pods, without ``static_autoscaling``. Default: 2.
        static_resources: CPU and memory of each NGINX pod. Default: 1 CPU, 1G.
        redis_image: the Redis image. Default: ``redis.DEFAULT_IMAGE``.
        redis_replicas: Redis pods, pod 0 being the master. Default: 3.
        redis_resources: CPU and memory of each Redis pod. Default: 500m, 512Mi.
        redis_storage: size of each Redis data volume. Default: ``"10Gi"``.
        redis_storage_class: StorageClass of the Redis volumes. Default: the cluster's.
        redis_password: the Secret key with the Redis password (an ``ExistingSecret`` or a
            ``kplus.SecretValue``).
            Default: ``redis-passwd`` / ``passwd``.
        redis_failover: Redis Sentinel failover with HAProxy behind the write Service
            (see ``Redis``). Default: none, pod 0 is the master.
        ingress_class: the Ingress's ``ingressClassName``. Default: ``"nginx"``.
        host: the Ingress's host name. Default: every host.
        tls: TLS for ``host``. Default: plain HTTP.
        ingress_controller_namespace: where the ingress controller runs.
            Default: ``"ingress-nginx"``.
        with_ingress: define the Ingress (``/api`` and ``/``). ``False`` leaves the edge to
            you (``ingress`` is then ``None``): route ``api`` and ``static_site`` yourself.
            Default: ``True``.
        frontend_pod: typed additions to the API pods. Default: none.
        static_pod: typed additions to the NGINX pods. Default: none.
        redis_pod: typed additions to the Redis pods. Default: none.
        edge: a Gateway API ``PathRoute`` (without routes yet) that takes the routes instead
            of an Ingress (its ``hostnames`` say which hosts; TLS ends at the Gateway's
            listener). Default: a ``PathIngress``.
        metrics: Prometheus metrics of every tier (``Metrics``): exporter sidecars for Redis
            (and its HAProxy) and NGINX, ServiceMonitors, alerts and NetworkPolicies; the API
            is scraped when ``frontend_metrics_port`` is given. Default: none.
        frontend_metrics_port: the port the API serves its metrics on. Default: none.
        frontend_metrics_path: the path of the API's metrics. Default: ``"/metrics"``.
        frontend_autoscaling: a HorizontalPodAutoscaler for the API pods, instead of
            ``frontend_replicas``. Default: none.
        static_autoscaling: a HorizontalPodAutoscaler for the NGINX pods, instead of
            ``static_replicas``. Default: none.
        frontend_budget: the API pods' disruption budget. Default: the rule below.
        static_budget: the NGINX pods' disruption budget. Default: the rule below.
        redis_budget: the Redis pods' disruption budget. Default: the rule below.

    Disruption budgets: by default each tier lets a drain take one pod at a time
    (``maxUnavailable: 1``), except a tier whose autoscaler may hold a single pod
    (``min_replicas=1``), which keeps ``minAvailable: 1`` so that a drain never takes its last
    pod (the drain waits until the autoscaler or a person adds one). A tier of one fixed pod
    keeps ``maxUnavailable: 1``: nothing would ever add a pod, and a drain must not hang. A
    given budget that lets every pod go at once at the fewest pods, or blocks every eviction
    at the most, is refused.

    The Ingress arguments (``ingress_class``, ``host``, ``tls``,
    ``ingress_controller_namespace``) are refused with an ``edge`` or ``with_ingress=False``,
    which define no Ingress to give them to. An error about an argument names it as passed
    here (``frontend_replicas=0``), not as the inner construct calls it.

    Raises:
        ValueError: an argument is not allowed, or an Ingress argument has no Ingress.
        TypeError: an argument has the wrong type.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str | None = None,
        frontend_image: str = api_frontend.DEFAULT_IMAGE,
        frontend_replicas: int | None = None,
        frontend_resources: Resources | None = None,
        journal_entries: int = 10,
        static_image: str = static_site.DEFAULT_IMAGE,
        static_replicas: int | None = None,
        static_resources: Resources | None = None,
        redis_image: str = redis.DEFAULT_IMAGE,
        redis_replicas: int = 3,
        redis_resources: Resources | None = None,
        redis_storage: str = "10Gi",
        redis_storage_class: str | None = None,
        redis_password: ExistingSecret | kplus.SecretValue | None = None,
        redis_failover: Failover | None = None,
        ingress_class: str | None = None,
        host: str | None = None,
        tls: IngressTls | None = None,
        ingress_controller_namespace: str | None = None,
        with_ingress: bool = True,
        frontend_pod: PodOptions | None = None,
        static_pod: PodOptions | None = None,
        redis_pod: PodOptions | None = None,
        edge: PathRoute | None = None,
        metrics: Metrics | None = None,
        frontend_metrics_port: int | None = None,
        frontend_metrics_path: str = DEFAULT_METRICS_PATH,
        frontend_autoscaling: Autoscaling | None = None,
        static_autoscaling: Autoscaling | None = None,
        frontend_budget: DisruptionBudget | None = None,
        static_budget: DisruptionBudget | None = None,
        redis_budget: DisruptionBudget | None = None,
    ) -> None:
        super().__init__(scope, id)
        if name is not None:
            check_service_name("name", name, max_length=41)
        check_instance("edge", edge, PathRoute, None)
        ingress_arguments = {
            argument: value
            for argument, value in (
                ("class_name", ingress_class),
                ("host", host),
                ("tls", tls),
                ("controller_namespace", ingress_controller_namespace),
            )
            if value is not None
        }
        if ingress_arguments and (edge is not None or not with_ingress):
            argument, value = next(iter(ingress_arguments.items()))
            why = (
                f"edge={edge.node.path} routes through a Gateway: give its hosts as "
                "PathRoute(hostnames=...), TLS is the Gateway listener's"
                if edge is not None
                else "with_ingress=False defines no Ingress"
            )
            raise ValueError(f"{_INGRESS_ARGUMENTS[argument]}={value!r} is not allowed: {why}")
        if edge is not None and not with_ingress:
            raise ValueError(
                f"with_ingress=False is not allowed with edge={edge.node.path}: the edge "
                "takes the routes; leave with_ingress out"
            )
        prefix = "" if name is None else f"{name}-"
        with _arguments_named("redis_", _REDIS_ARGUMENTS):
            self.redis = Redis(
                self,
                "Redis",
                name=f"{prefix}redis",
                pod=redis_pod,
                replicas=redis_replicas,
                image=redis_image,
                resources=redis_resources,
                storage=redis_storage,
                storage_class=redis_storage_class,
                password=redis_password,
                failover=redis_failover,
                metrics=metrics,
                budget=redis_budget,
            )
        """The Redis tier."""
        with _arguments_named("frontend_", (*_SCALED_ARGUMENTS, "metrics_port", "metrics_path")):
            self.api = ApiFrontend(
                self,
                "Api",
                redis=self.redis,
                name=f"{prefix}frontend",
                pod=frontend_pod,
                image=frontend_image,
                replicas=frontend_replicas,
                resources=frontend_resources,
                journal_entries=journal_entries,
                metrics=metrics,
                metrics_port=frontend_metrics_port,
                metrics_path=frontend_metrics_path,
                autoscaling=frontend_autoscaling,
                budget=frontend_budget,
            )
        """The API tier."""
        with _arguments_named("static_", _SCALED_ARGUMENTS):
            self.static_site = StaticSite(
                self,
                "Static",
                name=f"{prefix}fileserver",
                pod=static_pod,
                image=static_image,
                replicas=static_replicas,
                resources=static_resources,
                metrics=metrics,
                autoscaling=static_autoscaling,
                budget=static_budget,
            )
        """The static file tier."""
        self.ingress: PathIngress | None = None
        """The Ingress, or ``None`` with an ``edge`` or ``with_ingress=False``."""
        self.edge: PathIngress | PathRoute | None = edge
        """Where traffic enters, the Ingress or the ``edge`` (``/api`` before ``/``), or
        ``None`` when built ``with_ingress=False``."""
        if edge is None and with_ingress:
            with _arguments_named("", _INGRESS_ARGUMENTS):
                self.edge = self.ingress = PathIngress(
                    self,
                    "Ingress",
                    name="frontend-ingress" if name is None else f"{name}-ingress",
                    **ingress_arguments,  # type: ignore[arg-type]
                )
        if self.edge is not None:
            self.edge.route("/api", self.api)
            self.edge.route("/", self.static_site)


_TIER_ARGUMENTS = ("image", "replicas", "resources", "pod", "budget")
"""The arguments of a tier that ``JournalService`` passes on as ``<tier>_<argument>``."""
_SCALED_ARGUMENTS = (*_TIER_ARGUMENTS, "autoscaling")
"""The arguments of the API and static tiers, which may autoscale."""
_REDIS_ARGUMENTS = (*_TIER_ARGUMENTS, "storage", "storage_class", "password", "failover")
_INGRESS_ARGUMENTS = {
    "class_name": "ingress_class",
    "controller_namespace": "ingress_controller_namespace",
    "host": "host",
    "tls": "tls",
}
"""``PathIngress``'s argument names, and ``JournalService``'s for them."""


@contextlib.contextmanager
def _arguments_named(prefix: str, arguments: Mapping[str, str] | tuple[str, ...]) -> Iterator[None]:
    """Re-raise an inner construct's error about one of ``arguments`` with the name the
    caller of ``JournalService`` passed (``replicas=0`` becomes ``frontend_replicas=0``).

    The constructs' messages start with the argument (``replicas=0 is not allowed``, ``tls is
    not allowed``, ``pod env: ...``) and give other arguments as ``name=value``.
    """
    names = (
        dict(arguments) if isinstance(arguments, Mapping) else {a: prefix + a for a in arguments}
    )
    either = "|".join(sorted(names, key=len, reverse=True))
    try:
        yield
    except (ValueError, TypeError) as error:
        text = str(error)
        first = (argument_of(text) or "").split(" ")[0]  # "autoscaling" of "autoscaling max_…"
        renamed = names[first] + text[len(first) :] if first in names else text
        renamed = re.sub(rf"(?<= )({either})(?==)", lambda match: names[match[0]], renamed)
        if renamed == text:
            raise
        raise type(error)(renamed) from None
