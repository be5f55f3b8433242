"""Metrics of every tier: exporter sidecars, ServiceMonitors, alerts, and only Prometheus in.

What each container, config file and policy says, asserted field by field; the exporters run
for real in ``tests/behaviour/test_metrics_behaviour.py``, the alerts in ``test_alerts.py``.
"""

from __future__ import annotations

from typing import Any

import cdk8s
import cdk8s_plus_27 as kplus
import pytest

from journal_k8s import (
    DEFAULT_NGINX_EXPORTER_IMAGE,
    DEFAULT_REDIS_EXPORTER_IMAGE,
    Failover,
    JournalService,
    Metrics,
    Quota,
    Redis,
    Resources,
    RestrictedNamespace,
    ServiceMonitor,
    StaticSite,
)
from journal_tools import schemas
from support import Manifest, find, synth

EXPORTERS = {
    "redis-exporter": ("StatefulSet", "redis"),
    "nginx-exporter": ("Deployment", "fileserver"),
}
"""Each exporter sidecar and the workload whose pods run it."""
METRICS = Metrics(
    prometheus_namespace="observability",
    prometheus_labels={"app.kubernetes.io/name": "prometheus", "team": "platform"},
    monitor_labels={"release": "prom"},
    interval="15s",
)
PROMETHEUS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus", "team": "platform"}},
}
"""The Prometheus pods of ``METRICS``: that namespace AND those labels, in one peer."""


def journal(
    chart: cdk8s.Chart, metrics: Metrics | None = METRICS, **options: Any
) -> list[Manifest]:
    """A failover journal (3 Redis pods, HAProxy), with ``metrics`` and the API's on 9100."""
    JournalService(
        chart,
        "Journal",
        redis_failover=Failover(),
        **({} if metrics is None else {"metrics": metrics, "frontend_metrics_port": 9100}),
        **options,
    )
    return synth(chart)


def pod_spec(objects: list[Manifest], kind: str, name: str) -> Manifest:
    spec: Manifest = find(objects, kind, name)["spec"]["template"]["spec"]
    return spec


def container(objects: list[Manifest], name: str) -> Manifest:
    """The exporter sidecar ``name`` (``EXPORTERS``)."""
    containers = pod_spec(objects, *EXPORTERS[name])["containers"]
    (found,) = [c for c in containers if c["name"] == name]
    return found


def test_every_redis_and_nginx_pod_runs_its_pinned_exporter(chart: cdk8s.Chart) -> None:
    objects = journal(chart)
    assert container(objects, "redis-exporter")["image"] == DEFAULT_REDIS_EXPORTER_IMAGE
    assert container(objects, "nginx-exporter")["image"] == DEFAULT_NGINX_EXPORTER_IMAGE
    assert DEFAULT_REDIS_EXPORTER_IMAGE == "oliver006/redis_exporter:v1.67.0-alpine"
    assert DEFAULT_NGINX_EXPORTER_IMAGE == "nginx/nginx-prometheus-exporter:1.4.1"
    assert find(objects, "StatefulSet", "redis")["spec"]["replicas"] == 3  # one each
    ports = {
        c["name"]: [(p["name"], p["containerPort"]) for p in c.get("ports", [])]
        for kind, name in EXPORTERS.values()
        for c in pod_spec(objects, kind, name)["containers"]
    }
    assert ports["redis-exporter"] == [("metrics", 9121)]
    assert ports["nginx-exporter"] == [("metrics", 9113)]
    # The NGINX exporter runs as its image's user; the Redis exporter as the pod's Redis
    # user, which may read the mounted password.
    nginx_exporter = container(objects, "nginx-exporter")["securityContext"]
    assert (nginx_exporter["runAsUser"], nginx_exporter["runAsGroup"]) == (1001, 1001)
    assert "runAsUser" not in container(objects, "redis-exporter")["securityContext"]
    assert pod_spec(objects, "StatefulSet", "redis")["securityContext"]["runAsUser"] == 999


@pytest.mark.parametrize("tier", ["redis", "fileserver"])
def test_each_tier_opts_in_on_its_own(chart: cdk8s.Chart, tier: str) -> None:
    if tier == "redis":
        Redis(chart, "Redis", metrics=METRICS)
        StaticSite(chart, "Static")
    else:
        Redis(chart, "Redis")
        StaticSite(chart, "Static", metrics=METRICS)
    objects = synth(chart)
    monitors = [o["metadata"]["name"] for o in objects if o["kind"] == "ServiceMonitor"]
    assert monitors == [f"{tier}-metrics"]
    containers = {
        o["metadata"]["name"]: [c["name"] for c in o["spec"]["template"]["spec"]["containers"]]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet")
    }
    exporter = {"redis": "redis-exporter", "fileserver": "nginx-exporter"}
    assert {name: exporter[name] in names for name, names in containers.items()} == {
        "redis": tier == "redis",
        "fileserver": tier == "fileserver",
    }


def test_without_metrics_no_exporter_monitor_rule_or_policy(chart: cdk8s.Chart) -> None:
    objects = journal(chart, None)
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    names = {o["metadata"]["name"] for o in objects}
    assert not [n for n in names if n.endswith(("-metrics", "-from-prometheus", "-alerts"))]
    containers = [
        c["name"]
        for o in objects
        if "template" in o.get("spec", {})
        for c in o["spec"]["template"]["spec"]["containers"]
    ]
    assert not [c for c in containers if c.endswith("-exporter")]
    assert "stub_status" not in find(objects, "ConfigMap", "fileserver-nginx")["data"]["nginx.conf"]
    assert (
        "prometheus-exporter"
        not in find(objects, "ConfigMap", "redis-proxy-config")["data"]["haproxy.cfg"]
    )


@pytest.mark.parametrize("name", EXPORTERS)
def test_every_exporter_is_restricted_with_requests_limits_and_probes(
    chart: cdk8s.Chart, name: str
) -> None:
    sized = Metrics(exporter_resources=Resources(cpu="20m", memory="32Mi"))
    exporter = container(journal(chart, sized), name)
    security = exporter["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    sizes = {"cpu": "20m", "memory": "32Mi"}
    assert exporter["resources"] == {"requests": sizes, "limits": sizes}
    for probe in ("livenessProbe", "readinessProbe"):
        assert exporter[probe]["httpGet"]["port"] == "metrics", probe


def test_the_namespace_quota_counts_the_exporters(chart: cdk8s.Chart) -> None:
    """7.5 CPU holds the journal without metrics (tests/library/test_autoscaling.py's
    arithmetic); each Redis pod's and NGINX pod's exporter (50m) makes it 7.8."""
    quota = Quota(cpu="7.5", memory="64Gi", storage="100Gi", pods=40)
    RestrictedNamespace(chart, "Namespace", name="test", quota=quota)
    JournalService(chart, "Journal")
    cdk8s.Testing.synth(chart)
    with_metrics = cdk8s.Chart(
        cdk8s.App(), "test", namespace="test", disable_resource_name_hashes=True
    )
    RestrictedNamespace(with_metrics, "Namespace", name="test", quota=quota)
    JournalService(with_metrics, "Journal", metrics=Metrics())
    with pytest.raises(RuntimeError) as failure:
        cdk8s.Testing.synth(with_metrics)
    assert (
        "spec.hard.requests.cpu: '7500m' cannot hold the namespace's workloads at their most, "
        "7800m = StatefulSet redis 3 pods (3 replicas) * 550m + Deployment frontend 3 pods "
        "(2 replicas + surge 1) * 1000m + Deployment fileserver 3 pods (2 replicas + surge 1) "
        "* 1050m"
    ) in str(failure.value)


def test_the_redis_exporter_reads_the_password_from_the_mounted_secret(
    chart: cdk8s.Chart,
) -> None:
    objects = journal(chart)
    exporter = container(objects, "redis-exporter")
    assert "env" not in exporter and "envFrom" not in exporter
    # Its argv names the Secret's key, never the password.
    assert exporter["command"] == ["/bin/sh", "/opt/journal-redis/exporter.sh", "passwd"]
    assert "args" not in exporter
    mounts = {m["name"]: m for m in exporter["volumeMounts"]}
    assert mounts["password"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod_spec(objects, "StatefulSet", "redis")["volumes"]}
    assert volumes["password"]["secret"]["secretName"] == "redis-passwd"
    assert volumes["redis-exporter"]["emptyDir"]["medium"] == "Memory"
    assert mounts["redis-exporter"]["mountPath"] == "/run/redis-exporter"
    assert not [o for o in objects if o["kind"] == "Secret"]
    script = find(objects, "ConfigMap", "redis-config")["data"]["exporter.sh"]
    assert 'password="$(cat "/etc/redis-passwd/$1")"' in script
    assert '> "/run/redis-exporter/passwords.json"' in script
    assert '-redis.password-file="/run/redis-exporter/passwords.json"' in script
    assert "-redis.password=" not in script and "REDIS_PASSWORD" not in script


def test_nginx_status_is_on_the_pods_loopback_for_its_exporter_only(chart: cdk8s.Chart) -> None:
    objects = journal(chart)
    config = find(objects, "ConfigMap", "fileserver-nginx")["data"]["nginx.conf"]
    status = config[config.index("server {\n        listen 127.0.0.1:8081;") :]
    assert "location = /stub_status {\n            stub_status;" in status
    assert config.count("stub_status;") == 1  # in that server only, not on the site's port
    assert "listen 8081" not in config
    nginx = next(
        c
        for c in pod_spec(objects, "Deployment", "fileserver")["containers"]
        if c["name"] == "nginx"
    )
    assert [p["containerPort"] for p in nginx["ports"]] == [8080]
    assert container(objects, "nginx-exporter")["args"][0] == (
        "--nginx.scrape-uri=http://127.0.0.1:8081/stub_status"
    )


def test_haproxy_exports_its_backends_on_the_metrics_port(chart: cdk8s.Chart) -> None:
    objects = journal(chart)
    config = find(objects, "ConfigMap", "redis-proxy-config")["data"]["haproxy.cfg"]
    assert (
        "frontend metrics\n  mode http\n  bind :8405\n  timeout client 5s\n  no log\n"
        "  http-request use-service prometheus-exporter if { path /metrics }\n"
    ) in config
    (haproxy,) = pod_spec(objects, "Deployment", "redis-proxy")["containers"]
    assert {"name": "metrics", "containerPort": 8405, "protocol": "TCP"} in haproxy["ports"]
    service = find(objects, "Service", "redis-proxy-metrics")["spec"]
    assert service["ports"] == [
        {"name": "metrics", "port": 8405, "protocol": "TCP", "targetPort": "metrics"}
    ]


def test_the_api_is_scraped_on_the_port_and_path_given_only(chart: cdk8s.Chart) -> None:
    objects = journal(chart, frontend_metrics_path="/stats")
    (api,) = pod_spec(objects, "Deployment", "frontend")["containers"]
    assert {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in api["ports"]
    monitor = find(objects, "ServiceMonitor", "frontend-metrics")["spec"]
    assert monitor["endpoints"] == [{"interval": "15s", "path": "/stats", "port": "metrics"}]
    unscraped = cdk8s.Chart(
        cdk8s.App(), "test", namespace="test", disable_resource_name_hashes=True
    )
    JournalService(unscraped, "Journal", metrics=METRICS)
    names = {o["metadata"]["name"] for o in synth(unscraped)}
    assert not {"frontend-metrics", "frontend-from-prometheus", "frontend-alerts"} & names
    assert {"redis-metrics", "fileserver-metrics"} <= names


def test_one_service_monitor_and_rule_per_tier_with_the_monitor_labels(chart: cdk8s.Chart) -> None:
    objects = journal(chart)
    tiers = ("redis", "redis-proxy", "fileserver", "frontend")
    monitors = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceMonitor"}
    assert sorted(monitors) == sorted(f"{tier}-metrics" for tier in tiers)
    rules = {o["metadata"]["name"] for o in objects if o["kind"] == "PrometheusRule"}
    assert rules == {f"{tier}-alerts" for tier in tiers}
    for tier in tiers:
        monitor = monitors[f"{tier}-metrics"]
        assert monitor["metadata"]["labels"]["release"] == "prom"
        assert (
            find(objects, "PrometheusRule", f"{tier}-alerts")["metadata"]["labels"]["release"]
            == "prom"
        )
        # It selects its tier's metrics Service, and only that one.
        selector = monitor["spec"]["selector"]["matchLabels"]
        selected = [
            o["metadata"]["name"]
            for o in objects
            if o["kind"] == "Service" and selector.items() <= o["metadata"]["labels"].items()
        ]
        assert selected == [f"{tier}-metrics"]
        service = find(objects, "Service", f"{tier}-metrics")["spec"]
        assert service["clusterIP"] == "None" and service["publishNotReadyAddresses"] is True
        assert monitor["spec"]["endpoints"][0]["port"] == service["ports"][0]["name"] == "metrics"


def ingress_rules(objects: list[Manifest]) -> list[tuple[str, Manifest, Manifest]]:
    """Every ingress rule of every NetworkPolicy: (policy name, pod selector, rule)."""
    return [
        (o["metadata"]["name"], o["spec"]["podSelector"], rule)
        for o in objects
        if o["kind"] == "NetworkPolicy"
        for rule in o["spec"].get("ingress", [])
    ]


def metrics_ports(objects: list[Manifest], selector: Manifest) -> set[int | str]:
    """The metrics container ports (by name and number) of the pods ``selector`` picks."""
    found: set[int | str] = set()
    for workload in (o for o in objects if o["kind"] in ("Deployment", "StatefulSet")):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        if selector.get("matchLabels", {}).items() <= labels.items():
            for c in workload["spec"]["template"]["spec"]["containers"]:
                for port in c.get("ports", []):
                    if port["name"] == "metrics":
                        found |= {"metrics", port["containerPort"]}
    return found


def test_only_the_prometheus_pods_reach_the_metrics_ports(chart: cdk8s.Chart) -> None:
    objects = journal(chart)
    opened = []
    for name, selector, rule in ingress_rules(objects):
        assert rule.get("ports"), f"{name} opens every port"
        ports = {p["port"] for p in rule["ports"]}
        metrics = metrics_ports(objects, selector)
        if ports & metrics:
            # A metrics port: from the Prometheus pods only, and nothing but the metrics port.
            assert rule["from"] == [PROMETHEUS_PEER], name
            assert ports == {"metrics"}, name
            opened.append(name)
        else:
            assert PROMETHEUS_PEER not in rule.get("from", []), name
    assert sorted(opened) == [
        f"{tier}-from-prometheus" for tier in ("fileserver", "frontend", "redis", "redis-proxy")
    ]


def test_metrics_change_no_other_policy(chart: cdk8s.Chart) -> None:
    with_metrics = {
        o["metadata"]["name"]: o for o in journal(chart) if o["kind"] == "NetworkPolicy"
    }
    plain = cdk8s.Chart(cdk8s.App(), "test", namespace="test", disable_resource_name_hashes=True)
    without = {
        o["metadata"]["name"]: o for o in journal(plain, None) if o["kind"] == "NetworkPolicy"
    }
    added = sorted(set(with_metrics) - set(without))
    assert added == [
        f"{tier}-from-prometheus" for tier in ("fileserver", "frontend", "redis", "redis-proxy")
    ]
    assert {name: with_metrics[name] for name in without} == without


def test_a_kplus_workload_gets_a_service_monitor_and_only_prometheus_in(
    chart: cdk8s.Chart,
) -> None:
    deployment = kplus.Deployment(
        chart,
        "App",
        containers=[
            kplus.ContainerProps(
                image="example/app:1.0",
                ports=[kplus.ContainerPort(number=8080), kplus.ContainerPort(number=9102)],
            )
        ],
    )
    service = deployment.expose_via_service(
        name="app",
        ports=[
            kplus.ServicePort(name="http", port=80, target_port=8080),
            kplus.ServicePort(name="metrics", port=9100, target_port=9102),
        ],
    )
    monitor = ServiceMonitor(
        chart, "Metrics", service=service, port="metrics", metrics=METRICS, path="/m"
    )
    objects = synth(chart)
    resource = find(objects, "ServiceMonitor", "app")
    assert resource["metadata"]["labels"]["release"] == "prom"
    assert resource["spec"]["endpoints"] == [{"interval": "15s", "path": "/m", "port": "metrics"}]
    selector = resource["spec"]["selector"]["matchLabels"]
    assert selector.items() <= find(objects, "Service", "app")["metadata"]["labels"].items()
    policy = find(objects, "NetworkPolicy", "app-from-prometheus")["spec"]
    pods = find(objects, "Deployment", deployment.name)["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pods.items()
    assert policy["ingress"] == [
        {"from": [PROMETHEUS_PEER], "ports": [{"port": 9102, "protocol": "TCP"}]}
    ]
    assert cdk8s.ApiObject.of(monitor.resource).kind == "ServiceMonitor"
    # Valid against the Prometheus Operator's CRD, strict.
    assert schemas.validate(resource, schemas.VERSIONS[-1]) == []


@pytest.mark.parametrize(
    ("port", "named", "message"),
    [
        ("stats", "http", "port='stats' is not allowed: Service 'app' has named ports ['http']"),
        ("Metrics", "http", "port='Metrics' is not allowed"),
        ("metrics", None, "port='metrics' is not allowed: Service 'app' has no named port"),
    ],
)
def test_a_service_monitor_refuses_a_port_the_service_does_not_name(
    chart: cdk8s.Chart, port: str, named: str | None, message: str
) -> None:
    deployment = kplus.Deployment(
        chart, "App", containers=[kplus.ContainerProps(image="example/app:1.0", port_number=8080)]
    )
    service = deployment.expose_via_service(
        name="app", ports=[kplus.ServicePort(name=named, port=80, target_port=8080)]
    )
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ServiceMonitor(chart, "Metrics", service=service, port=port, metrics=METRICS)


@pytest.mark.parametrize("interval", ["0", "0s", "", "0m0s", "1d", "30"])
def test_an_interval_that_is_no_duration_above_zero_is_refused(interval: str) -> None:
    with pytest.raises(ValueError, match="expected a Prometheus duration above zero"):
        Metrics(interval=interval)


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"frontend_metrics_path": "/a b"}, "frontend_metrics_path"),
        ({"frontend_metrics_path": "metrics"}, "frontend_metrics_path"),
        ({"frontend_metrics_path": "/" + "m" * 256}, "frontend_metrics_path"),
    ],
)
def test_a_metrics_path_outside_the_http_path_grammar_is_refused(
    chart: cdk8s.Chart, arguments: dict[str, Any], argument: str
) -> None:
    # The values take the same grammar (journal_k8s.grammar.HTTP_PATH).
    with pytest.raises(ValueError, match=f"{argument}='.* is not allowed: expected a path"):
        journal(chart, **arguments)


def app_service(chart: cdk8s.Chart) -> kplus.Service:
    deployment = kplus.Deployment(
        chart, "App", containers=[kplus.ContainerProps(image="example/app:1.0", port_number=9102)]
    )
    return deployment.expose_via_service(
        name="app", ports=[kplus.ServicePort(name="metrics", port=9102)]
    )


def test_two_service_monitors_of_one_service_both_select_it(chart: cdk8s.Chart) -> None:
    # Two Prometheus instances (their own monitor labels) scrape one Service.
    service = app_service(chart)
    for name, release in (("app-a", "a"), ("app-b", "b")):
        ServiceMonitor(
            chart,
            name,
            service=service,
            port="metrics",
            metrics=Metrics(monitor_labels={"release": release}),
            name=name,
        )
    objects = synth(chart)
    service_labels = find(objects, "Service", "app")["metadata"]["labels"]
    for name in ("app-a", "app-b"):
        selector = find(objects, "ServiceMonitor", name)["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service_labels.items(), name


def test_a_service_monitor_outside_the_namespace_of_its_service_is_refused(
    chart: cdk8s.Chart,
) -> None:
    service = app_service(chart)
    elsewhere = cdk8s.Chart(
        chart.node.scope, "monitoring", namespace="monitoring", disable_resource_name_hashes=True
    )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="it is in namespace 'monitoring' and service='app' in"):
        ServiceMonitor(elsewhere, "Monitor", service=service, port="metrics", metrics=METRICS)
