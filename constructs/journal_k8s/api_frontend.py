"""ApiFrontend: the journal API server, wired to Redis by object."""

from __future__ import annotations

from constructs import Construct

from . import _alerts, _pod
from ._exporters import METRICS_PORT_NAME
from ._kplus import k8s
from ._peers import lookup
from ._redis_topology import PASSWORD_DIR
from ._served import ServedWorkload
from ._types import (
    DEFAULT_METRICS_PATH,
    Autoscaling,
    DisruptionBudget,
    Metrics,
    PodOptions,
    Resources,
    check_dns_subdomain,
    check_http_path,
    check_image,
    check_instance,
    check_name_fits,
    check_port,
    check_positive,
    check_type,
)
from .redis import Redis
from .service_monitor import monitor_objects

DEFAULT_IMAGE = "my-repo/journal-server:v1-abcde"
"""The book's API server image."""

_UID = 10001


class ApiFrontend(ServedWorkload):
    """The API tier: a Deployment, its Service, a ConfigMap of settings and a disruption budget.

    The pods get the Redis read host, write host and port as environment variables, and
    the password as a file from the Redis Secret (its path in ``REDIS_PASSWORD_FILE``, so
    it stays out of the environment); Redis is opened to these pods only. Redis may live in
    another chart and namespace: the hosts are then ``<service>.<namespace>.svc``, the
    policies name both namespaces, and the password Secret must exist in both.

    Args:
        scope: the parent construct.
        id: the construct id.
        redis: the Redis the API reads from and writes to.
        name: the Deployment, Service, budget and label name; the ConfigMap is
            ``<name>-config``. Default: ``"frontend"``.
        image: the container image. Default: ``DEFAULT_IMAGE``.
        replicas: number of pods, without ``autoscaling``. Default: 2.
        resources: CPU and memory of each pod. Default: 1 CPU, 1G (limits equal requests).
        journal_entries: the ``journalEntries`` setting, given to the pods as
            ``JOURNAL_ENTRIES``. Default: 10.
        port: the port the server listens on and the Service exposes. Default: 8080.
        ready_path: the HTTP path of the readiness probe. Default: ``"/readyz"``.
        live_path: the HTTP path of the liveness and startup probes. Default: ``"/healthz"``.
        cluster_domain: appended to the Redis hosts when Redis is in another namespace
            (``redis.<namespace>.svc.<cluster_domain>``), and then used in the same namespace
            too. Default: none (``<service>.<namespace>.svc`` resolves through the pod's DNS
            search path).
        pod: typed additions to the pods (env, sidecars, tolerations, …). Default: none.
        metrics: Prometheus scraping (``Metrics``) of the server's own metrics endpoint at
            ``metrics_port`` and ``metrics_path``: a ServiceMonitor, alerts and the
            NetworkPolicy that lets Prometheus in. Default: none.
        metrics_port: the port the server serves metrics on (the container port ``metrics``).
            It may equal ``port``, for a server that serves both on one; then whatever may
            reach the API (the Ingress controller, its clients) reaches the metrics too, and
            only a separate port keeps them to Prometheus. Default: none, nothing is scraped.
        metrics_path: the HTTP path of the metrics. Default: ``"/metrics"``.
        autoscaling: a HorizontalPodAutoscaler between ``min_replicas`` and ``max_replicas``
            pods instead of ``replicas`` (the Deployment then has no ``spec.replicas``).
            Default: none, ``replicas`` pods. A ``kplus.HorizontalPodAutoscaler`` can target
            the tier instead (it is a ``kplus.IScalable``).
        budget: the pods' disruption budget. Default: one pod at a time
            (``maxUnavailable: 1``), or ``minAvailable: 1`` when an autoscaler may hold a
            single pod, so that a drain never takes the last one (see ``JournalService``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        redis: Redis,
        name: str = "frontend",
        image: str = DEFAULT_IMAGE,
        replicas: int | None = None,
        resources: Resources | None = None,
        journal_entries: int = 10,
        port: int = 8080,
        ready_path: str = "/readyz",
        live_path: str = "/healthz",
        cluster_domain: str | None = None,
        pod: PodOptions | None = None,
        metrics: Metrics | None = None,
        metrics_port: int | None = None,
        metrics_path: str = DEFAULT_METRICS_PATH,
        autoscaling: Autoscaling | None = None,
        budget: DisruptionBudget | None = None,
    ) -> None:
        super().__init__(scope, id, name=name, service_port=port, container_port=port)
        check_image("image", image)
        check_positive("journal_entries", journal_entries)
        check_port("port", port, unprivileged=True)
        check_instance("metrics", metrics, Metrics, None)
        if metrics_port is not None:
            check_port("metrics_port", metrics_port, unprivileged=True)
        check_http_path("ready_path", ready_path)
        check_http_path("live_path", live_path)
        check_http_path("metrics_path", metrics_path)
        if cluster_domain is not None:
            check_dns_subdomain("cluster_domain", cluster_domain)
        resources = check_instance(
            "resources", resources, Resources, Resources(cpu="1", memory="1G")
        )
        options = check_instance("pod", pod, PodOptions, PodOptions())
        check_type("redis", redis, Redis)
        lookup(self, redis)
        hosts = redis.hosts(self.namespace, cluster_domain=cluster_domain)
        config = {"journalEntries": str(journal_entries)}
        extra = {}
        if metrics is not None and metrics_port is not None:
            check_name_fits("name", name, f"{name}-metrics", "the metrics Service")
            namespace = metrics.check_namespace(self.namespace, self)
            extra = monitor_objects(
                name=name,
                pods=self._pod_labels,
                port=metrics_port,
                path=metrics_path,
                metrics=metrics,
                container_port="http" if metrics_port == port else METRICS_PORT_NAME,
                groups=[
                    _alerts.group(
                        name,
                        _alerts.api_alerts(name=name, job=f"{name}-metrics", namespace=namespace),
                        namespace=namespace,
                        interval=metrics.interval,
                    )
                ],
            )
        ports = [_pod.tcp_port("http", port)]
        if metrics_port is not None and metrics_port != port:
            ports.append(_pod.tcp_port(METRICS_PORT_NAME, metrics_port))
        self._define_tier(
            component="api",
            config_name=f"{name}-config",
            config=config,
            replicas=replicas,
            autoscaling=autoscaling,
            budget=budget,
            uid=_UID,
            options=options,
            resources=resources,
            container=_pod.container(
                "api",
                image,
                resources,
                ports=ports,
                env=self._environment(redis, *hosts),
                startup_probe=_pod.http_probe(live_path, "http", period=5, failures=30),
                liveness_probe=_pod.http_probe(live_path, "http", period=10, failures=3),
                readiness_probe=_pod.http_probe(ready_path, "http", period=5, failures=2),
                volume_mounts=[
                    k8s.VolumeMount(name="tmp", mount_path="/tmp"),
                    k8s.VolumeMount(name="redis-password", mount_path=PASSWORD_DIR, read_only=True),
                ],
            ),
            volumes=[
                k8s.Volume(name="tmp", empty_dir=k8s.EmptyDirVolumeSource()),
                _pod.secret_volume("redis-password", redis.password),
            ],
            extra=extra,
        )
        redis.allow_from(self)

    def _environment(self, redis: Redis, read_host: str, write_host: str) -> list[k8s.EnvVar]:
        return [
            k8s.EnvVar(
                name="JOURNAL_ENTRIES",
                value_from=k8s.EnvVarSource(
                    config_map_key_ref=k8s.ConfigMapKeySelector(
                        name=f"{self._name}-config", key="journalEntries"
                    )
                ),
            ),
            k8s.EnvVar(name="REDIS_READ_HOST", value=read_host),
            k8s.EnvVar(name="REDIS_WRITE_HOST", value=write_host),
            k8s.EnvVar(name="REDIS_PORT", value=str(redis.port)),
            k8s.EnvVar(name="REDIS_PASSWORD_FILE", value=f"{PASSWORD_DIR}/{redis.password.key}"),
        ]
