"""The failover mode of ``Redis``: Redis Sentinel beside every server, HAProxy for writes."""

from __future__ import annotations

from . import _alerts, _bulk, _network, _pod, _redis_proxy, _sentinel
from ._kplus import k8s
from ._network import Pods
from ._redis_topology import (
    CONFIG_DIR,
    PASSWORD_DIR,
    PORT,
    REDIS_CONF,
    RUN_DIR,
    RedisPods,
    probe_script,
)
from ._types import Failover
from .service_monitor import monitor_objects


class SentinelProxy:
    """Redis Sentinel picks the master; the write Service selects HAProxy pods that follow it.

    Args:
        pods: the Redis's pods.
        failover: the failover settings.

    Raises:
        ValueError: the settings do not suit ``pods`` (see ``Failover.check_against``).
    """

    memory_volumes: tuple[str, ...] = ("sentinel",)

    def __init__(self, pods: RedisPods, failover: Failover) -> None:
        self._quorum = failover.check_against(pods.replicas)
        self._pods = pods
        self._failover = failover
        self._proxy_name = f"{pods.name}-proxy"

    def files(self) -> dict[str, str]:
        """Both launch scripts, both probes, redis.conf and the preStop hook."""
        failover, name = self._failover, self._pods.name
        peers = [f"{name}-{i}.{self._pods.headless}" for i in range(self._pods.replicas)]
        common = _sentinel.Scripts(
            master_set=name,
            peers=peers,
            domain=self._pods.headless,
            password_path=self._pods.password_path,
            quorum=self._quorum,
        )
        # Ready only once the sentinels see the server, too.
        seen = f'exec /bin/sh {CONFIG_DIR}/sentinel-probe.sh "$1" seen'
        return {
            "launch.sh": _sentinel.redis_launch_script(
                common,
                config_dir=CONFIG_DIR,
                run_dir=RUN_DIR,
                min_replicas_to_write=failover.min_replicas_to_write,
            ),
            "probe.sh": probe_script(seen=seen),
            "redis.conf": _sentinel.redis_conf(
                REDIS_CONF,
                min_replicas_to_write=failover.min_replicas_to_write,
                min_replicas_max_lag=failover.min_replicas_max_lag,
            ),
            "stop.sh": _sentinel.redis_stop_script(
                common, failover_timeout_ms=failover.failover_timeout_ms
            ),
            "sentinel.sh": _sentinel.sentinel_launch_script(
                common,
                down_after_ms=failover.down_after_ms,
                failover_timeout_ms=failover.failover_timeout_ms,
            ),
            "sentinel-probe.sh": _sentinel.sentinel_probe_script(common, password_dir=PASSWORD_DIR),
        }

    def stopping(self) -> tuple[k8s.Lifecycle | None, int | None]:
        """``stop.sh`` as redis-server's preStop hook (a master hands over first), and a
        grace period for the hand-over plus the server's shutdown."""
        hook = k8s.LifecycleHandler(
            exec=k8s.ExecAction(command=["/bin/sh", f"{CONFIG_DIR}/stop.sh"])
        )
        return (
            k8s.Lifecycle(pre_stop=hook),
            _sentinel.grace_period_s(self._failover.failover_timeout_ms),
        )

    def dns_config(self) -> k8s.PodDnsConfig | None:
        """A resolver timeout below Sentinel's TILT trigger (a lost DNS reply would otherwise
        block a sentinel for 5 s, and then stop it acting for 30 s)."""
        return k8s.PodDnsConfig(
            options=[
                k8s.PodDnsConfigOption(name="timeout", value=str(_sentinel.RESOLVER_TIMEOUT_S))
            ]
        )

    def write_selector(self) -> dict[str, str]:
        """The HAProxy pods' labels."""
        return _pod.selector_labels(self._proxy_name)

    def sidecars(self) -> list[k8s.Container]:
        """The sentinel container of every Redis pod."""

        def probe(mode: str, *, period: int, failures: int) -> k8s.Probe:
            return k8s.Probe(
                exec=k8s.ExecAction(
                    command=[
                        "/bin/sh",
                        f"{CONFIG_DIR}/sentinel-probe.sh",
                        self._pods.password.key,
                        mode,
                    ]
                ),
                period_seconds=period,
                timeout_seconds=3,
                failure_threshold=failures,
            )

        return [
            _pod.container(
                "sentinel",
                self._pods.image,
                self._failover.sentinel_resources,
                command=["/bin/sh", f"{CONFIG_DIR}/sentinel.sh"],
                ports=[_pod.tcp_port("sentinel", _sentinel.SENTINEL_PORT)],
                liveness_probe=probe("alive", period=10, failures=6),
                readiness_probe=probe("ready", period=5, failures=2),
                volume_mounts=[
                    k8s.VolumeMount(name="config", mount_path=CONFIG_DIR, read_only=True),
                    k8s.VolumeMount(name="password", mount_path=PASSWORD_DIR, read_only=True),
                    k8s.VolumeMount(name="sentinel", mount_path=_sentinel.SENTINEL_DIR),
                ],
            )
        ]

    def objects(self) -> dict[str, _bulk.Body]:
        """HAProxy (ConfigMap, Deployment, budget) and the sentinel and proxy policies; with
        metrics, HAProxy's exporter, its ServiceMonitor, policy and alerts.

        Raises:
            ValueError: the Redis's chart sets no namespace.
        """
        owner, name = self._pods.owner, self._pods.name
        namespace = self._failover.check_namespace(owner.namespace, owner)
        suffix = f"{self._pods.headless}.{namespace}.svc.{self._failover.cluster_domain}"
        servers = [(f"{name}-{i}", f"{name}-{i}.{suffix}") for i in range(self._pods.replicas)]
        labels = _pod.object_labels(name, "storage")
        own = owner.pods()
        (_, proxy), *_ = self.fronts()
        sentinel = _network.connection(
            server=own,
            client=own,
            port=_sentinel.SENTINEL_PORT,
            labels=labels,
            names=(f"{name}-sentinel", f"{name}-sentinel-peers"),
        )
        from_proxy = _network.connection(server=own, client=proxy, port=PORT, labels=labels)
        # HAProxy's check asks each pod's own sentinel whether it names the pod as master.
        proxy_sentinel = _network.connection(
            server=own,
            client=proxy,
            port=_sentinel.SENTINEL_PORT,
            labels=labels,
            names=(
                f"{name}-sentinel-from-{self._proxy_name}",
                f"{self._proxy_name}-to-{name}-sentinel",
            ),
        )
        return {
            **_redis_proxy.proxy_objects(
                name=self._proxy_name,
                servers=_redis_proxy.Servers(
                    port=PORT, hosts=servers, master_set=name, announced=self._pods.headless
                ),
                password_secret=self._pods.password.name,
                password_key=self._pods.password.key,
                failover=self._failover,
                metrics=self._pods.metrics is not None,
            ),
            **dict(zip(("SentinelPolicy", "SentinelEgressPolicy"), sentinel, strict=True)),
            **dict(zip(("ProxyPolicy", "ProxyEgressPolicy"), from_proxy, strict=True)),
            **dict(
                zip(
                    ("ProxySentinelPolicy", "ProxySentinelEgressPolicy"),
                    proxy_sentinel,
                    strict=True,
                )
            ),
            **self._metrics_objects(namespace),
        }

    def _metrics_objects(self, namespace: str) -> dict[str, _bulk.Body]:
        metrics = self._pods.metrics
        if metrics is None:
            return {}
        name = self._proxy_name
        alerts = _alerts.proxy_alerts(name=name, job=f"{name}-metrics", namespace=namespace)
        return monitor_objects(
            name=name,
            pods=_pod.selector_labels(name),
            port=_redis_proxy.METRICS_PORT,
            metrics=metrics,
            groups=[_alerts.group(name, alerts, namespace=namespace, interval=metrics.interval)],
            id_prefix="Proxy",
        )

    def fronts(self) -> list[tuple[str, Pods]]:
        """The HAProxy pods (policies ``ProxyAllowFrom-<client>``)."""
        owner = self._pods.owner
        labels = _pod.selector_labels(self._proxy_name)
        return [("Proxy", Pods(self._proxy_name, owner, owner.namespace, labels))]
