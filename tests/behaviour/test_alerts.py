"""The alert rules, checked and unit-tested by Prometheus's own promtool (Debian ``prometheus``).

The rules are those of the synthesized PrometheusRules of a prod-shaped journal (Redis with
failover, NGINX, an API with a metrics port). ``promtool check rules`` reads them as they are;
``promtool test rules`` then runs, for every alert, synthetic series that make it fire (after
its ``for:``, not before) and series that must leave it quiet. Under ``CI=true`` a missing
``promtool`` is a failure.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from test_redis_behaviour import need

from journal_k8s import Failover, JournalService, Metrics, Resources
from journal_k8s.grammar import duration_seconds
from support import ROOT, Manifest, synth

NAMESPACE = "journal-prod"
MEMORY_LIMIT = 2 * 1024**3
"""The Redis memory limit of the chart below (2Gi), in bytes."""


@pytest.fixture(scope="module")
def objects() -> list[Manifest]:
    chart = cdk8s.Chart(cdk8s.App(), "prod", namespace=NAMESPACE, disable_resource_name_hashes=True)
    JournalService(
        chart,
        "Journal",
        redis_resources=Resources(cpu="1", memory="2Gi"),
        redis_failover=Failover(min_replicas_to_write=1, min_replicas_max_lag=10),
        static_replicas=3,
        metrics=Metrics(),
        frontend_metrics_port=9090,
    )
    return synth(chart)


@pytest.fixture(scope="module")
def rules(objects: list[Manifest]) -> dict[str, Any]:
    """The rule groups of every PrometheusRule, as a Prometheus rule file holds them."""
    groups = [g for o in objects if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]
    return {"groups": groups}


@pytest.fixture(scope="module")
def by_name(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rules["groups"] for r in g["rules"]}


def promtool(*arguments: str, cwd: Path) -> str:
    need("promtool")
    result = subprocess.run(
        ["promtool", *arguments], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def series(metric: str, job: str, values: str, namespace: str = NAMESPACE, **labels: str) -> dict:
    text = ",".join(f'{k}="{v}"' for k, v in {"job": job, "namespace": namespace, **labels}.items())
    return {"series": f"{metric}{{{text}}}", "values": values}


REDIS, PROXY, NGINX, API = (
    "redis-metrics",
    "redis-proxy-metrics",
    "fileserver-metrics",
    "frontend-metrics",
)
STEPS = "x80"
"""Every series runs 20 minutes (80 samples, 15 s apart): longer than any ``for:``."""


@dataclass(frozen=True)
class Case:
    """Series that make one alert fire (with the labels it fires with) and series that don't."""

    fire: list[dict[str, str]]
    labels: Mapping[str, str]
    quiet: list[dict[str, str]]
    more_quiet: list[list[dict[str, str]]] = field(default_factory=list)


def masters(*roles: str) -> list[dict[str, str]]:
    return [
        series("redis_instance_info", REDIS, f"1{STEPS}", pod=f"redis-{i}", role=role)
        for i, role in enumerate(roles)
    ]


def replicas_of_master(count: str) -> list[dict[str, str]]:
    return [
        series("redis_connected_slaves", REDIS, count, pod="redis-0"),
        *masters("master", "slave", "slave"),
    ]


def good_replicas(*replicas: tuple[str, str]) -> list[dict[str, str]]:
    """The master redis-0 with a replica per ``(state, lag values)``, as its exporter reports
    them (``redis_connected_slaves`` counts every one)."""
    return [
        series("redis_connected_slaves", REDIS, f"{len(replicas)}{STEPS}", pod="redis-0"),
        *[
            series(
                "redis_connected_slave_lag_seconds",
                REDIS,
                lag,
                pod="redis-0",
                slave_ip=f"10.0.0.{i + 2}",
                slave_port="6379",
                slave_state=state,
            )
            for i, (state, lag) in enumerate(replicas)
        ],
        *masters("master", "slave", "slave"),
    ]


def none_up(metric: str, job: str, pods: list[str]) -> Case:
    """An alert on a whole tier: it fires once every pod's ``metric`` is 0, and stays quiet
    while the last pod is up."""
    return Case(
        fire=[series(metric, job, f"1 0{STEPS}", pod=p) for p in pods],
        labels={},
        quiet=[series(metric, job, f"1 {int(p == pods[-1])}{STEPS}", pod=p) for p in pods],
    )


def pod(job: str, name: str) -> dict[str, str]:
    return {"job": job, "namespace": NAMESPACE, "pod": name}


CASES: dict[str, Case] = {
    "RedisExporterDown": Case(
        fire=[series("up", REDIS, f"1 0{STEPS}", pod="redis-1")],
        labels=pod(REDIS, "redis-1"),
        quiet=[series("up", REDIS, f"1{STEPS}", pod="redis-1")],
    ),
    "RedisPodsMissing": Case(
        fire=[series("up", REDIS, f"1{STEPS}", pod=f"redis-{i}") for i in range(2)],
        labels={},
        quiet=[series("up", REDIS, f"1{STEPS}", pod=f"redis-{i}") for i in range(3)],
    ),
    "RedisDown": Case(
        fire=[series("redis_up", REDIS, f"1 0{STEPS}", pod="redis-1")],
        labels=pod(REDIS, "redis-1"),
        quiet=[series("redis_up", REDIS, f"1{STEPS}", pod="redis-1")],
        # Another namespace's Redis is not this journal's.
        more_quiet=[
            [series("redis_up", REDIS, f"0{STEPS}", namespace="journal-staging", pod="redis-1")]
        ],
    ),
    "RedisNoMaster": Case(
        fire=masters("slave", "slave", "slave"),
        labels={},
        quiet=masters("slave", "master", "slave"),
    ),
    "RedisSplitBrain": Case(
        fire=masters("master", "master", "slave"),
        labels={},
        quiet=masters("master", "slave", "slave"),
    ),
    "RedisReplicaLinkDown": Case(
        fire=[series("redis_master_link_up", REDIS, f"1 0{STEPS}", pod="redis-2")],
        labels=pod(REDIS, "redis-2"),
        quiet=[series("redis_master_link_up", REDIS, f"1{STEPS}", pod="redis-2")],
    ),
    "RedisReplicaLagging": Case(
        fire=[
            series(
                "redis_connected_slave_lag_seconds",
                REDIS,
                f"0 11{STEPS}",
                pod="redis-0",
                slave_ip="10.0.0.2",
            )
        ],
        labels={**pod(REDIS, "redis-0"), "slave_ip": "10.0.0.2"},
        quiet=[
            series(
                "redis_connected_slave_lag_seconds",
                REDIS,
                f"0 10{STEPS}",
                pod="redis-0",
                slave_ip="10.0.0.2",
            )
        ],
    ),
    "RedisMemoryNearLimit": Case(
        fire=[
            series(
                "redis_memory_used_rss_bytes",
                REDIS,
                f"{int(MEMORY_LIMIT * 0.91)}{STEPS}",
                pod="redis-0",
            )
        ],
        labels=pod(REDIS, "redis-0"),
        quiet=[
            series(
                "redis_memory_used_rss_bytes",
                REDIS,
                f"{int(MEMORY_LIMIT * 0.89)}{STEPS}",
                pod="redis-0",
            )
        ],
    ),
    "RedisAofWriteErrors": Case(
        fire=[
            series("redis_aof_last_write_status", REDIS, f"1 0{STEPS}", pod="redis-0"),
            series("redis_aof_last_bgrewrite_status", REDIS, f"1{STEPS}", pod="redis-0"),
        ],
        labels=pod(REDIS, "redis-0"),
        quiet=[
            series("redis_aof_last_write_status", REDIS, f"1{STEPS}", pod="redis-0"),
            series("redis_aof_last_bgrewrite_status", REDIS, f"1{STEPS}", pod="redis-0"),
        ],
    ),
    "RedisReplicasMissing": Case(
        fire=replicas_of_master(f"2 1{STEPS}"),
        labels=pod(REDIS, "redis-0"),
        quiet=replicas_of_master(f"2{STEPS}"),
        # A replica's own count (0 replicas of its own) is not the master's.
        more_quiet=[
            [
                series("redis_connected_slaves", REDIS, f"2{STEPS}", pod="redis-0"),
                series("redis_connected_slaves", REDIS, f"0{STEPS}", pod="redis-1"),
                *masters("master", "slave", "slave"),
            ]
        ],
    ),
    "RedisWritesRefused": Case(
        # Both replicas still connected, neither acknowledging: one stalled past
        # min-replicas-max-lag (10 s), one back to a full sync.
        fire=good_replicas(("online", f"0 15{STEPS}"), ("wait_bgsave", f"0{STEPS}")),
        labels=pod(REDIS, "redis-0"),
        quiet=good_replicas(("online", f"0 1{STEPS}"), ("online", f"0 30{STEPS}")),
        more_quiet=[
            good_replicas(("online", f"0 10{STEPS}")),  # at the bound: still good
        ],
    ),
    "RedisProxyDown": Case(
        fire=[series("up", PROXY, f"1 0{STEPS}", pod="redis-proxy-a")],
        labels=pod(PROXY, "redis-proxy-a"),
        quiet=[series("up", PROXY, f"1{STEPS}", pod="redis-proxy-a")],
    ),
    "RedisProxyAllDown": none_up("up", PROXY, ["redis-proxy-a", "redis-proxy-b"]),
    "RedisProxyNoBackend": Case(
        fire=[
            series(
                "haproxy_backend_active_servers",
                PROXY,
                f"1 0{STEPS}",
                pod="redis-proxy-a",
                proxy="master",
            )
        ],
        labels={**pod(PROXY, "redis-proxy-a"), "proxy": "master"},
        quiet=[
            series(
                "haproxy_backend_active_servers",
                PROXY,
                f"1{STEPS}",
                pod="redis-proxy-a",
                proxy="master",
            )
        ],
    ),
    "RedisProxyTwoMasters": Case(
        fire=[
            series(
                "haproxy_backend_active_servers",
                PROXY,
                f"1 2{STEPS}",
                pod="redis-proxy-a",
                proxy="master",
            )
        ],
        labels={**pod(PROXY, "redis-proxy-a"), "proxy": "master"},
        quiet=[
            series(
                "haproxy_backend_active_servers",
                PROXY,
                f"1{STEPS}",
                pod="redis-proxy-a",
                proxy="master",
            )
        ],
    ),
    "NginxExporterDown": Case(
        fire=[series("up", NGINX, f"1 0{STEPS}", pod="fileserver-a")],
        labels=pod(NGINX, "fileserver-a"),
        quiet=[series("up", NGINX, f"1{STEPS}", pod="fileserver-a")],
    ),
    "NginxDown": Case(
        fire=[series("nginx_up", NGINX, f"1 0{STEPS}", pod="fileserver-a")],
        labels=pod(NGINX, "fileserver-a"),
        quiet=[series("nginx_up", NGINX, f"1{STEPS}", pod="fileserver-a")],
    ),
    "StaticSiteDown": none_up("nginx_up", NGINX, [f"fileserver-{p}" for p in "abc"]),
    "ApiMetricsDown": Case(
        fire=[series("up", API, f"1 0{STEPS}", pod="frontend-a")],
        labels=pod(API, "frontend-a"),
        quiet=[series("up", API, f"1{STEPS}", pod="frontend-a")],
    ),
    "ApiDown": none_up("up", API, ["frontend-a", "frontend-b"]),
}


def test_promtool_checks_the_rules(rules: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    output = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert f"SUCCESS: {len(CASES)} rules found" in output


def test_every_alert_has_a_case_and_a_runbook(by_name: dict[str, dict[str, Any]]) -> None:
    assert sorted(by_name) == sorted(CASES)
    readme = (ROOT / "README.md").read_text()
    for name, rule in by_name.items():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["for"] and rule["annotations"]["summary"]
        assert rule["annotations"]["runbook"] == f"README.md#runbook-{name.lower()}"
        assert f"#### Runbook: {name}\n" in readme, f"README has no runbook section for {name}"


@pytest.mark.parametrize("alert", list(CASES))
def test_alert_fires_after_its_for_and_not_on_healthy_series(
    alert: str, by_name: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    rule = by_name[alert]
    case = CASES[alert]
    hold = int(duration_seconds(rule["for"]))
    # The rule as synthesized, without its annotations (their templates are checked above;
    # promtool would otherwise need each rendered text).
    bare = {k: v for k, v in rule.items() if k != "annotations"}
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "test", "rules": [bare]}]}, sort_keys=False)
    )
    fired = {**case.labels, "namespace": NAMESPACE, "severity": rule["labels"]["severity"]}
    tests = [
        {
            "interval": "15s",
            "input_series": case.fire,
            "alert_rule_test": [
                # Pending, not firing, just before its for: ...
                {"eval_time": f"{max(hold - 30, 0)}s", "alertname": alert, "exp_alerts": []},
                # ... firing a minute after.
                {
                    "eval_time": f"{hold + 60}s",
                    "alertname": alert,
                    "exp_alerts": [{"exp_labels": fired}],
                },
            ],
        },
        *(
            {
                "interval": "15s",
                "input_series": quiet,
                "alert_rule_test": [
                    {"eval_time": f"{t}s", "alertname": alert, "exp_alerts": []}
                    for t in (hold + 60, 19 * 60)
                ],
            }
            for quiet in [case.quiet, *case.more_quiet]
        ),
    ]
    (tmp_path / "test.yaml").write_text(
        yaml.safe_dump(
            {"rule_files": ["rules.yaml"], "evaluation_interval": "15s", "tests": tests},
            sort_keys=False,
        )
    )
    output = promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert "SUCCESS" in output


def test_a_failing_expectation_fails_promtool(
    by_name: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The unit tests can fail: healthy series expected to fire are reported."""
    need("promtool")
    bare = {k: v for k, v in by_name["RedisDown"].items() if k != "annotations"}
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "t", "rules": [bare]}]})
    )
    test = {
        "interval": "15s",
        "input_series": CASES["RedisDown"].quiet,
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "RedisDown", "exp_alerts": [{"exp_labels": {}}]}
        ],
    }
    (tmp_path / "test.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": [test]})
    )
    result = subprocess.run(
        ["promtool", "test", "rules", "test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "RedisDown" in result.stdout + result.stderr


def test_rules_know_the_topology(by_name: dict[str, dict[str, Any]]) -> None:
    """Thresholds come from the construct: 3 pods, min-replicas-to-write 1, a 2Gi limit."""
    selector = f'job="redis-metrics", namespace="{NAMESPACE}"'
    assert by_name["RedisPodsMissing"]["expr"] == f"(count(up{{{selector}}}) or vector(0)) < 3"
    assert by_name["RedisReplicasMissing"]["expr"].endswith(" < 2")
    assert by_name["RedisWritesRefused"]["expr"].endswith(" < 1")
    assert by_name["RedisReplicaLagging"]["expr"].endswith(" > 10")
    assert by_name["RedisMemoryNearLimit"]["expr"] == (
        f"redis_memory_used_rss_bytes{{{selector}}} > 0.9 * {MEMORY_LIMIT}"
    )
    assert by_name["RedisDown"]["for"] == "1m"


def test_without_failover_there_is_no_write_quorum_nor_proxy_alert() -> None:
    chart = cdk8s.Chart(
        cdk8s.App(), "dev", namespace="journal-dev", disable_resource_name_hashes=True
    )
    JournalService(chart, "Journal", redis_replicas=1, metrics=Metrics())
    names = {
        r["alert"]
        for o in synth(chart)
        if o["kind"] == "PrometheusRule"
        for g in o["spec"]["groups"]
        for r in g["rules"]
    }
    assert not names & {"RedisWritesRefused", "RedisReplicasMissing", "RedisProxyDown"}
    assert {"RedisDown", "RedisNoMaster", "StaticSiteDown"} <= names
    assert not names & {"ApiDown", "ApiMetricsDown"}  # no frontend metrics port given


def test_every_alert_holds_for_two_scrapes_at_least() -> None:
    """A slower scrape interval lengthens every ``for:`` below two scrapes, so that one sample
    never makes an alert fire; the others keep their own."""
    chart = cdk8s.Chart(cdk8s.App(), "p", namespace=NAMESPACE, disable_resource_name_hashes=True)
    JournalService(
        chart,
        "Journal",
        redis_failover=Failover(min_replicas_to_write=1),
        metrics=Metrics(interval="1m30s"),
    )
    holds = {
        r["alert"]: r["for"]
        for o in synth(chart)
        if o["kind"] == "PrometheusRule"
        for g in o["spec"]["groups"]
        for r in g["rules"]
    }
    assert holds["RedisWritesRefused"] == "3m"  # 30s by itself
    assert holds["RedisDown"] == "3m"  # 1m by itself
    assert holds["RedisExporterDown"] == "5m"
    assert holds["RedisPodsMissing"] == "10m"
    assert all(duration_seconds(hold) >= 180 for hold in holds.values())


def test_every_alert_fires_with_the_namespace_of_its_tier(
    by_name: dict[str, dict[str, Any]],
) -> None:
    for rule in by_name.values():
        assert rule["labels"]["namespace"] == NAMESPACE
        assert f'namespace="{NAMESPACE}"' in rule["expr"]


@pytest.mark.parametrize(
    "arguments",
    [{}, {"static_replicas": 2}, {"frontend_metrics_port": 9090}],
    ids=["redis", "static", "api"],
)
def test_metrics_in_a_chart_without_a_namespace_are_refused(arguments: dict[str, Any]) -> None:
    # The alerts count a tier's pods by namespace: without one they would count another
    # journal's too.
    chart = cdk8s.Chart(cdk8s.App(), "p", disable_resource_name_hashes=True)
    with pytest.raises(ValueError, match="its chart sets no namespace, and its alerts count"):
        JournalService(chart, "Journal", metrics=Metrics(), **arguments)
