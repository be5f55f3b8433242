"""The alert rules of each tier, written from what the construct knows of its topology.

Every rule selects the series of one tier by ``job`` (the tier's metrics Service, as a
ServiceMonitor names its targets) and ``namespace``, and fires with a ``namespace`` label.
Each has a ``for:`` (at least two scrapes), a severity, a summary and a description, and a
runbook: the README section of the alert's name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .grammar import duration_seconds

RUNBOOK = "README.md#runbook-{anchor}"
"""Where an alert's runbook is: its section of the README."""


@dataclass(frozen=True)
class Alert:
    """One alerting rule."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str

    def rule(self, *, namespace: str, interval: str) -> dict[str, object]:
        """The rule as a PrometheusRule (and Prometheus rule file) holds it, for a tier in
        ``namespace`` scraped every ``interval``: its ``for:`` spans two scrapes at least, so
        that one sample never makes it fire."""
        hold = max(duration_seconds(self.for_), 2 * duration_seconds(interval))
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": _duration(math.ceil(hold)),
            "labels": {"severity": self.severity, "namespace": namespace},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook": RUNBOOK.format(anchor=self.name.lower()),
            },
        }


def _duration(seconds: int) -> str:
    """A Prometheus duration of whole seconds, in its largest units (``90`` is ``1m30s``)."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = ((hours, "h"), (minutes, "m"), (seconds, "s"))
    return "".join(f"{count}{unit}" for count, unit in parts if count) or "0s"


def selector(job: str, namespace: str, **more: str) -> str:
    """The PromQL label matchers of a tier's series: its job and namespace, and ``more``."""
    pairs = {"job": job, "namespace": namespace, **more}
    return ", ".join(f'{key}="{value}"' for key, value in pairs.items())


def _count(expr: str) -> str:
    """``count(expr)``, 0 when ``expr`` has no series (``count`` of nothing is nothing)."""
    return f"(count({expr}) or vector(0))"


def redis_alerts(
    *,
    name: str,
    job: str,
    namespace: str,
    replicas: int,
    memory_limit_bytes: int,
    memory_ratio: float,
    max_lag_seconds: int,
    min_replicas_to_write: int,
) -> list[Alert]:
    """The Redis tier's alerts; ``min_replicas_to_write`` 0 leaves out the write quorum."""
    on = selector(job, namespace)
    master = selector(job, namespace, role="master")
    alerts = [
        Alert(
            "RedisExporterDown",
            f"up{{{on}}} == 0",
            "5m",
            "warning",
            f"The Redis exporter of {{{{ $labels.pod }}}} ({name}) cannot be scraped",
            "Prometheus gets no metrics from this Redis pod, so no other Redis alert can see it.",
        ),
        Alert(
            "RedisPodsMissing",
            f"{_count(f'up{{{on}}}')} < {replicas}",
            "10m",
            "warning",
            f"Fewer than {replicas} Redis pods of {name} are scraped",
            f"{name} runs {replicas} pods; {{{{ $value }}}} of them are targets of Prometheus.",
        ),
        Alert(
            "RedisDown",
            f"redis_up{{{on}}} == 0",
            "1m",
            "critical",
            f"Redis server {{{{ $labels.pod }}}} ({name}) is down",
            "The exporter beside it cannot reach the Redis server in its pod.",
        ),
        Alert(
            "RedisNoMaster",
            f"{_count(f'redis_instance_info{{{master}}}')} < 1",
            "1m",
            "critical",
            f"No Redis server of {name} is the master",
            "Writes fail: no scraped Redis server reports role master (or the master's own "
            "exporter cannot be scraped: see RedisExporterDown).",
        ),
        Alert(
            "RedisSplitBrain",
            f"count(redis_instance_info{{{master}}}) > 1",
            "1m",
            "critical",
            f"{{{{ $value }}}} Redis servers of {name} are masters",
            "More than one server reports role master: writes to all but one will be lost.",
        ),
        Alert(
            "RedisReplicaLinkDown",
            f"redis_master_link_up{{{on}}} == 0",
            "2m",
            "warning",
            f"Redis replica {{{{ $labels.pod }}}} ({name}) lost its link to the master",
            "The replica does not replicate: its reads go stale.",
        ),
        Alert(
            "RedisReplicaLagging",
            f"redis_connected_slave_lag_seconds{{{on}}} > {max_lag_seconds}",
            "2m",
            "warning",
            f"A replica of {name} lags the master by more than {max_lag_seconds} s",
            "The master {{ $labels.pod }} last heard from replica {{ $labels.slave_ip }} "
            "{{ $value }} s ago.",
        ),
        Alert(
            "RedisMemoryNearLimit",
            f"redis_memory_used_rss_bytes{{{on}}} > {memory_ratio:g} * {memory_limit_bytes}",
            "5m",
            "warning",
            f"Redis server {{{{ $labels.pod }}}} ({name}) uses over {memory_ratio:.0%} of "
            "its memory limit",
            f"Resident memory is {{{{ $value | humanize1024 }}}}B of a {memory_limit_bytes} "
            "byte limit: the kernel kills the container at the limit.",
        ),
        Alert(
            "RedisAofWriteErrors",
            f"redis_aof_last_write_status{{{on}}} == 0 "
            f"or redis_aof_last_bgrewrite_status{{{on}}} == 0",
            "1m",
            "critical",
            f"Redis server {{{{ $labels.pod }}}} ({name}) fails to write its append-only file",
            "Its last AOF write or rewrite failed: writes are refused or not durable.",
        ),
    ]
    connected = f"(redis_connected_slaves{{{on}}} and on (pod) redis_instance_info{{{master}}})"
    # Redis counts a replica towards min-replicas-to-write only while it is online and has
    # acknowledged within min-replicas-max-lag seconds (a stalled or syncing one is still
    # connected): the good replicas of each master, 0 when it has none.
    by = "by (job, namespace, pod)"
    good = (
        f'((count {by} (redis_connected_slave_lag_seconds{{{on}, slave_state="online"}} '
        f"<= {max_lag_seconds}) or on (pod) sum {by} (0 * redis_instance_info{{{master}}})) "
        f"and on (pod) redis_instance_info{{{master}}})"
    )
    if replicas > 1:
        alerts.append(
            Alert(
                "RedisReplicasMissing",
                f"{connected} < {replicas - 1}",
                "5m",
                "warning",
                f"The master of {name} has fewer than {replicas - 1} replicas",
                "{{ $value }} replicas are connected to the master {{ $labels.pod }}.",
            )
        )
    if min_replicas_to_write > 0:
        alerts.append(
            Alert(
                "RedisWritesRefused",
                f"{good} < {min_replicas_to_write}",
                "30s",
                "critical",
                f"The master of {name} has fewer good replicas than min-replicas-to-write "
                f"({min_replicas_to_write})",
                "With {{ $value }} replicas online and within "
                f"{max_lag_seconds} s of lag, the master {{{{ $labels.pod }}}} refuses writes "
                "(NOREPLICAS).",
            )
        )
    return alerts


def proxy_alerts(*, name: str, job: str, namespace: str) -> list[Alert]:
    """The alerts of the HAProxy pods in front of a failover Redis."""
    on = selector(job, namespace)
    backend = selector(job, namespace, proxy="master")
    return [
        Alert(
            "RedisProxyDown",
            f"up{{{on}}} == 0",
            "2m",
            "warning",
            f"HAProxy {{{{ $labels.pod }}}} ({name}) cannot be scraped",
            "The write proxy pod does not answer on its metrics port.",
        ),
        Alert(
            "RedisProxyAllDown",
            f"{_count(f'up{{{on}}} == 1')} < 1",
            "1m",
            "critical",
            f"No HAProxy pod of {name} is up",
            "Every write fails: no write proxy pod answers on its metrics port, or none runs.",
        ),
        Alert(
            "RedisProxyNoBackend",
            f"haproxy_backend_active_servers{{{backend}}} < 1",
            "1m",
            "critical",
            f"HAProxy {{{{ $labels.pod }}}} ({name}) sees no Redis master",
            "No Redis server passes the proxy's role:master check: writes fail.",
        ),
        Alert(
            "RedisProxyTwoMasters",
            f"haproxy_backend_active_servers{{{backend}}} > 1",
            "1m",
            "critical",
            f"HAProxy {{{{ $labels.pod }}}} ({name}) sees {{{{ $value }}}} Redis masters",
            "More than one Redis server reports role master to the proxy (split brain).",
        ),
    ]


def nginx_alerts(*, name: str, job: str, namespace: str) -> list[Alert]:
    """The static site's alerts."""
    on = selector(job, namespace)
    return [
        Alert(
            "NginxExporterDown",
            f"up{{{on}}} == 0",
            "5m",
            "warning",
            f"The NGINX exporter of {{{{ $labels.pod }}}} ({name}) cannot be scraped",
            "Prometheus gets no metrics from this NGINX pod.",
        ),
        Alert(
            "NginxDown",
            f"nginx_up{{{on}}} == 0",
            "1m",
            "warning",
            f"NGINX {{{{ $labels.pod }}}} ({name}) is down",
            "The exporter beside it cannot read NGINX's stub_status.",
        ),
        Alert(
            "StaticSiteDown",
            f"{_count(f'nginx_up{{{on}}} == 1')} < 1",
            "1m",
            "critical",
            f"No NGINX of {name} is up",
            "Every static file request fails.",
        ),
    ]


def api_alerts(*, name: str, job: str, namespace: str) -> list[Alert]:
    """The API frontend's alerts (on Prometheus's own ``up`` of its metrics endpoint)."""
    on = selector(job, namespace)
    return [
        Alert(
            "ApiMetricsDown",
            f"up{{{on}}} == 0",
            "5m",
            "warning",
            f"API pod {{{{ $labels.pod }}}} ({name}) cannot be scraped",
            "The API's metrics endpoint does not answer.",
        ),
        Alert(
            "ApiDown",
            f"{_count(f'up{{{on}}} == 1')} < 1",
            "2m",
            "critical",
            f"No API pod of {name} answers",
            "No API pod's metrics endpoint answers: the API is likely down.",
        ),
    ]


def group(
    name: str, alerts: Sequence[Alert], *, namespace: str, interval: str
) -> dict[str, object]:
    """A rule group of ``alerts`` of a tier in ``namespace``, scraped every ``interval``."""
    rules = [alert.rule(namespace=namespace, interval=interval) for alert in alerts]
    return {"name": name, "rules": rules}
