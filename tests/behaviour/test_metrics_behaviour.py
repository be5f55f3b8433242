"""Metrics run for real: the exporters, scraped by a real Prometheus through the ServiceMonitors.

A failover Redis (redis-server, redis-sentinel and the Redis exporter in every pod, HAProxy
with its own exporter) and the static site (nginx and the NGINX exporter) run from their
synthesized manifests in the network-namespace harness (``pods``), each container from its
command, arguments and mounted files; the exporter images' binaries are the Debian packages'
(``pods.IMAGE_BINARIES``). A real ``prometheus`` server in the node's namespace scrapes them
through a configuration derived from the synthesized ServiceMonitors and Services (the targets
and labels the Operator would give it, the scrape interval of each ServiceMonitor), and
evaluates the synthesized PrometheusRules. The test reads Prometheus's HTTP API only.

Needs root and the Debian packages prometheus, prometheus-redis-exporter,
prometheus-nginx-exporter, nginx, redis-server, redis-sentinel and haproxy (installed if
missing; under ``CI=true`` a missing one is a failure).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import secrets
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from pods import NODE_ADDRESS, Network, StatefulSetRun, run_network, run_stateful_set
from test_redis_behaviour import need, need_root

from journal_k8s import Failover, Metrics, Redis, StaticSite
from support import Manifest, synth

pytestmark = pytest.mark.real

NAMESPACE = "journal"
REPLICAS = 3
PROMETHEUS_PORT = 9090
BINARIES = (
    "prometheus",
    "prometheus-redis-exporter",
    "prometheus-nginx-exporter",
    "nginx",
    "redis-server",
    "redis-sentinel",
    "redis-cli",
    "haproxy",
    "ip",
    "setpriv",
)
SETTLE_TIMEOUT = 90.0


@dataclass
class Stack:
    """The running pods, the Prometheus that scrapes them, and the synthesized objects."""

    network: Network
    redis: StatefulSetRun
    proxy: StatefulSetRun
    static: StatefulSetRun
    objects: list[Manifest]
    workdir: Path
    password: str
    """The Redis password of the mounted Secret."""

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>`` of the Prometheus, its ``data``."""
        query = f"/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        connection = http.client.HTTPConnection(NODE_ADDRESS, PROMETHEUS_PORT, timeout=5)
        connection.sock = self.network.connect(NODE_ADDRESS, PROMETHEUS_PORT)
        try:
            connection.request("GET", query)
            reply = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        assert reply["status"] == "success", reply
        return reply["data"]

    def values(self, promql: str) -> dict[str, float]:
        """The instant vector of ``promql``, by the ``pod`` label."""
        return {
            sample["metric"].get("pod", ""): float(sample["value"][1])
            for sample in self.api("query", query=promql)["result"]
        }

    def firing(self, alert: str) -> list[dict[str, str]]:
        """The labels of every firing instance of ``alert``."""
        return [
            a["labels"]
            for a in self.api("alerts")["alerts"]
            if a["labels"]["alertname"] == alert and a["state"] == "firing"
        ]


def wait_for(what: str, check: Any, timeout: float, stack: Stack) -> float:
    """Poll ``check()`` until it is true; the seconds it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            logs = (stack.workdir / "prometheus.log").read_text()[-3000:]
            raise TimeoutError(f"{what}: not within {timeout} s\n{logs}")
        time.sleep(0.25)
    return time.monotonic() - start


def scrape_configs(objects: list[Manifest], runs: list[StatefulSetRun]) -> list[dict[str, Any]]:
    """What the Prometheus Operator makes of the ServiceMonitors: for each endpoint, the pods
    of each Service it selects, at the container port behind the Service port, with the
    Operator's target labels (``job`` is the Service's name)."""
    pods = [(run, pod) for run in runs for pod in run.pods]
    configs = []
    for monitor in (o for o in objects if o["kind"] == "ServiceMonitor"):
        namespace = monitor["metadata"]["namespace"]
        wanted = monitor["spec"]["selector"]["matchLabels"].items()
        services = [
            o
            for o in objects
            if o["kind"] == "Service"
            and o["metadata"]["namespace"] == namespace
            and wanted <= o["metadata"].get("labels", {}).items()
        ]
        assert len(services) == 1, f"{monitor['metadata']['name']} selects {len(services)}"
        for index, endpoint in enumerate(monitor["spec"]["endpoints"]):
            groups = []
            for service in services:
                (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
                selector = service["spec"]["selector"].items()
                for run, pod in pods:
                    if not selector <= pod.labels.items():
                        continue
                    target = port["targetPort"]
                    if isinstance(target, str):
                        target = next(
                            p["containerPort"]
                            for c in run.containers.values()
                            for p in c.get("ports", [])
                            if p["name"] == target
                        )
                    groups.append(
                        {
                            "targets": [f"{pod.address}:{target}"],
                            "labels": {
                                "job": service["metadata"]["name"],
                                "namespace": namespace,
                                "service": service["metadata"]["name"],
                                "endpoint": endpoint["port"],
                                "pod": pod.name,
                            },
                        }
                    )
            configs.append(
                {
                    "job_name": f"serviceMonitor/{namespace}/{monitor['metadata']['name']}/{index}",
                    "scrape_interval": endpoint["interval"],
                    "scrape_timeout": "1s",
                    "metrics_path": endpoint["path"],
                    "static_configs": groups,
                }
            )
    return configs


@pytest.fixture(scope="module")
def objects() -> list[Manifest]:
    """A failover Redis and the static site with metrics (scraped every second), synthesized."""
    chart = cdk8s.Chart(cdk8s.App(), "test", namespace=NAMESPACE, disable_resource_name_hashes=True)
    metrics = Metrics(interval="1s")
    Redis(
        chart,
        "Redis",
        replicas=REPLICAS,
        failover=Failover(proxy_replicas=1),
        metrics=metrics,
    )
    StaticSite(chart, "Static", replicas=2, metrics=metrics)
    return synth(chart)


@pytest.fixture(scope="module")
def stack(objects: list[Manifest], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every pod started and Prometheus scraping them."""
    need_root()
    need(*BINARIES)
    password = secrets.token_urlsafe(24) + '"\\'
    secret = {"redis-passwd": {"passwd": password}}
    workdir = tmp_path_factory.mktemp("prometheus")
    with (
        run_network(NAMESPACE) as network,
        run_stateful_set(objects, "redis", secret, network) as redis,
        run_stateful_set(objects, "redis-proxy", secret, network) as proxy,
        run_stateful_set(objects, "fileserver", secret, network) as static,
    ):
        redis.start_all(timeout=60)
        proxy.start(0)
        for index in range(len(static.pods)):
            # The Debian exporter (0.11) exits when stub_status is not up yet at its start,
            # where the kubelet would restart it: start it once NGINX is ready.
            static.start(index, ["nginx"])
            wait_ready(static, index, "nginx")
            static.start(index, ["nginx-exporter"])
            static.wait_ready(index)
        rules = [g for o in objects if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]
        (workdir / "rules.yaml").write_text(yaml.safe_dump({"groups": rules}, sort_keys=False))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(workdir / "rules.yaml")],
            "scrape_configs": scrape_configs(objects, [redis, proxy, static]),
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        with (workdir / "prometheus.log").open("wb") as log:
            server = subprocess.Popen(
                [
                    *("ip", "netns", "exec", network.node_netns, "prometheus"),
                    f"--config.file={workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address={NODE_ADDRESS}:{PROMETHEUS_PORT}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            stack = Stack(network, redis, proxy, static, objects, workdir, password)
            deadline = time.monotonic() + 30
            while True:
                try:
                    stack.api("status/buildinfo")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log = (workdir / "prometheus.log").read_text()
                        raise RuntimeError(f"prometheus did not start:\n{log}") from None
                    time.sleep(0.2)
            yield stack
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
            if server.poll() is None:
                server.kill()
                server.wait(timeout=10)


def wait_ready(run: StatefulSetRun, index: int, container: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not run.probe(index, "readinessProbe", container).passed:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{run.pods[index].name} {container}:\n{run.log(index)}")
        time.sleep(0.1)


def test_prometheus_scrapes_every_exporter_through_the_service_monitors(stack: Stack) -> None:
    redis_pods = {pod.name for pod in stack.redis.pods}
    static_pods = {pod.name for pod in stack.static.pods}

    def scraped() -> bool:
        up = stack.values("redis_up")
        return set(up) == redis_pods and all(v == 1 for v in up.values())

    took = wait_for("redis_up == 1 on every Redis pod", scraped, SETTLE_TIMEOUT, stack)
    master = 'redis_instance_info{job="redis-metrics", role="master"}'
    connected = f'redis_connected_slaves{{job="redis-metrics"}} and on (pod) {master}'
    wait_for(
        "the master's connected replicas",
        lambda: list(stack.values(connected).values()) == [REPLICAS - 1],
        SETTLE_TIMEOUT,
        stack,
    )
    wait_for(
        "nginx_up == 1 on every NGINX pod",
        lambda: stack.values("nginx_up") == dict.fromkeys(static_pods, 1.0),
        SETTLE_TIMEOUT,
        stack,
    )
    # Every target of every ServiceMonitor is up, with the labels the Operator gives.
    wait_for(
        "every target scraped",
        lambda: all(t["health"] == "up" for t in stack.api("targets")["activeTargets"]),
        SETTLE_TIMEOUT,
        stack,
    )
    targets = stack.api("targets")["activeTargets"]
    assert {t["labels"]["job"] for t in targets} == {
        "redis-metrics",
        "redis-proxy-metrics",
        "fileserver-metrics",
    }
    assert len(targets) == REPLICAS + 1 + len(static_pods)
    assert all(t["health"] == "up" for t in targets), [t["lastError"] for t in targets]
    # HAProxy's exporter: exactly one Redis server passes the master check, the master.
    wait_for(
        "HAProxy sees one master",
        lambda: (
            stack.values('haproxy_backend_active_servers{proxy="master"}')
            == {"redis-proxy-pod0": 1.0}
        ),
        SETTLE_TIMEOUT,
        stack,
    )
    (master_pod,) = stack.values(master)
    up_servers = stack.api("query", query='haproxy_server_status{proxy="master", state="UP"} == 1')[
        "result"
    ]
    assert [s["metric"]["server"] for s in up_servers] == [master_pod]
    # Nothing fires on a healthy stack.
    assert [
        a["labels"]["alertname"] for a in stack.api("alerts")["alerts"] if a["state"] == "firing"
    ] == []
    print(f"\nall targets up {took:.1f} s after Prometheus started; master {master_pod}")


def container_processes(run: StatefulSetRun, index: int, container: str) -> dict[int, bytes]:
    """The command line of every process of a running container (its process group)."""
    process = run.pods[index].processes[container]
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) == process.pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return found


def test_the_redis_exporter_has_the_password_in_no_argv_and_no_environment(
    stack: Stack,
) -> None:
    """Every process of each pod's exporter container, while the exporter authenticates
    (``redis_up == 1``): neither its command line nor its environment holds the password."""
    wait_for(
        "redis_up == 1 on every Redis pod",
        lambda: list(stack.values("redis_up").values()) == [1.0] * REPLICAS,
        SETTLE_TIMEOUT,
        stack,
    )
    secret = stack.password[:32].encode()  # its random part: in any quoting or escaping
    for index in range(REPLICAS):
        processes = container_processes(stack.redis, index, "redis-exporter")
        exporters = [c for c in processes.values() if b"redis_exporter" in c.split(b"\0")[0]]
        assert len(exporters) == 1, processes
        assert b"-redis.password-file=/run/redis-exporter/passwords.json" in exporters[0]
        for pid, cmdline in processes.items():
            assert secret not in cmdline, pid
            assert secret not in Path(f"/proc/{pid}/environ").read_bytes(), pid


@pytest.mark.parametrize(
    "password",
    ["plain", 'q"uo\\te\\', "tab\tnew\nline\r\x01\x1f end", "$(id) `id` %s %%", "ünï ©ødé", ""],
    ids=["plain", "quote-backslash", "control", "shell", "utf-8", "empty"],
)
def test_the_exporter_writes_any_password_as_a_json_string(
    objects: list[Manifest], password: str, tmp_path: Path
) -> None:
    """The exporter script's own quoting, run by a real sh and awk: the password file it
    writes is JSON that holds the password as it is (redis_exporter exits on invalid JSON,
    and its readiness would take the Redis pod out of its Services)."""
    config = next(o for o in objects if o["kind"] == "ConfigMap" and "exporter.sh" in o["data"])
    lines = config["data"]["exporter.sh"].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("password="))
    end = lines.index("umask 077")
    script = tmp_path / "quote.sh"
    script.write_text(
        'password="$(cat "$1")"\n' + "\n".join(lines[start + 1 : end]) + '\nprintf %s "$quoted"\n'
    )
    (tmp_path / "password").write_bytes(password.encode())
    result = subprocess.run(
        ["sh", str(script), str(tmp_path / "password")], capture_output=True, check=True
    )
    # The shell drops a password's trailing line breaks, as redis-server's launch script does.
    assert json.loads(b'"' + result.stdout + b'"') == password.rstrip("\n")


def test_every_series_an_alert_reads_is_exported(stack: Stack) -> None:
    """The alerts' unit tests run on synthetic series: here each metric name an alert reads
    (replication role, link, lag, memory, AOF, HAProxy's backends, NGINX) is one the real
    exporters export, so no alert waits on a series that never comes."""
    expressions = [
        rule["expr"]
        for o in stack.objects
        if o["kind"] == "PrometheusRule"
        for group in o["spec"]["groups"]
        for rule in group["rules"]
    ]
    read = {name for e in expressions for name in re.findall(r"([a-z_:][a-z0-9_:]*)\{", e)}
    assert {"redis_master_link_up", "redis_aof_last_write_status", "nginx_up"} <= read

    def missing() -> list[str]:
        return sorted(read - set(stack.api("label/__name__/values")))

    deadline = time.monotonic() + SETTLE_TIMEOUT
    while missing() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert missing() == []


def test_redis_down_fires_within_its_for_and_clears_when_the_server_returns(
    stack: Stack,
) -> None:
    rule = next(
        r
        for o in stack.objects
        if o["kind"] == "PrometheusRule"
        for g in o["spec"]["groups"]
        for r in g["rules"]
        if r["alert"] == "RedisDown"
    )
    hold = int(rule["for"].removesuffix("m")) * 60
    master = stack.values('redis_instance_info{job="redis-metrics", role="master"}')
    index = next(i for i, pod in enumerate(stack.redis.pods) if pod.name not in master)
    victim = stack.redis.pods[index].name
    stack.redis.kill(index, ["redis"])  # the server only: its exporter goes on reporting
    killed = time.monotonic()
    wait_for("redis_up 0", lambda: stack.values("redis_up").get(victim) == 0, 30, stack)
    pending = [a for a in stack.api("alerts")["alerts"] if a["labels"]["alertname"] == "RedisDown"]
    assert [a["state"] for a in pending] in ([], ["pending"])
    assert stack.firing("RedisDown") == []
    wait_for(
        "RedisDown firing",
        lambda: [a["pod"] for a in stack.firing("RedisDown")] == [victim],
        hold + 20,
        stack,
    )
    fired = time.monotonic() - killed
    assert hold <= fired <= hold + 20, fired
    stack.redis.start(index, ["redis"])
    returned = time.monotonic()
    wait_for("RedisDown cleared", lambda: stack.firing("RedisDown") == [], 60, stack)
    cleared = time.monotonic() - returned
    assert stack.values("redis_up").get(victim) == 1
    print(
        f"\nRedisDown (for: {rule['for']}) fired {fired:.1f} s after {victim}'s server was "
        f"killed, cleared {cleared:.1f} s after it returned"
    )
