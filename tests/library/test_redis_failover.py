"""Redis(failover=...): Sentinel beside every server, HAProxy behind the write Service."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cdk8s
import pytest
from syrupy.assertion import SnapshotAssertion

from journal_k8s import DEFAULT_PROXY_IMAGE, Failover, Redis, Resources, StaticSite
from support import Manifest, find, require_binary, synth

REDIS_LABELS = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "journal"}
PROXY_LABELS = {"app.kubernetes.io/name": "redis-proxy", "app.kubernetes.io/part-of": "journal"}


def failover_redis(chart: cdk8s.Chart, **failover: object) -> list[Manifest]:
    Redis(chart, "Redis", failover=Failover(**failover))  # type: ignore[arg-type]
    return synth(chart)


def pod_spec(objects: list[Manifest], kind: str, name: str) -> Manifest:
    spec: Manifest = find(objects, kind, name)["spec"]["template"]["spec"]
    return spec


def test_snapshot(chart: cdk8s.Chart, k8s_snapshot: SnapshotAssertion) -> None:
    assert failover_redis(chart) == k8s_snapshot


def test_names_and_attributes(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis", name="cache", failover=Failover())
    objects = synth(chart)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == [
        ("ConfigMap", "cache-config"),
        ("ConfigMap", "cache-proxy-config"),
        ("Deployment", "cache-proxy"),
        ("NetworkPolicy", "cache"),
        ("NetworkPolicy", "cache-from-cache-proxy"),
        ("NetworkPolicy", "cache-proxy-to-cache"),
        ("NetworkPolicy", "cache-replication"),
        ("NetworkPolicy", "cache-sentinel"),
        ("NetworkPolicy", "cache-sentinel-peers"),
        ("PodDisruptionBudget", "cache"),
        ("PodDisruptionBudget", "cache-proxy"),
        ("Service", "cache"),
        ("Service", "cache-headless"),
        ("Service", "cache-write"),
        ("StatefulSet", "cache"),
    ]
    assert (redis.write_host, redis.read_host, redis.proxy_name) == (
        "cache-write",
        "cache",
        "cache-proxy",
    )
    assert redis.failover == Failover()
    assert redis.proxy_deployment.name == "cache-proxy"


def test_write_service_selects_the_proxies_and_reads_stay_on_the_redis_pods(
    chart: cdk8s.Chart,
) -> None:
    objects = failover_redis(chart)
    assert find(objects, "Service", "redis-write")["spec"]["selector"] == PROXY_LABELS
    assert find(objects, "Service", "redis")["spec"]["selector"] == REDIS_LABELS
    proxy = find(objects, "Deployment", "redis-proxy")["spec"]
    assert proxy["replicas"] == 2
    assert proxy["selector"]["matchLabels"] == PROXY_LABELS
    ports = proxy["template"]["spec"]["containers"][0]["ports"]
    assert {p["name"]: p["containerPort"] for p in ports} == {"redis": 6379, "health": 8404}
    budget = find(objects, "PodDisruptionBudget", "redis-proxy")["spec"]
    assert (budget["maxUnavailable"], budget["selector"]["matchLabels"]) == (1, PROXY_LABELS)


def test_every_pod_and_container_is_restricted(chart: cdk8s.Chart) -> None:
    objects = failover_redis(chart)
    for kind, name, uid in (("StatefulSet", "redis", 999), ("Deployment", "redis-proxy", 99)):
        spec = pod_spec(objects, kind, name)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == uid
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, container["name"]
            assert security["allowPrivilegeEscalation"] is False, container["name"]
            assert security["capabilities"] == {"drop": ["ALL"]}, container["name"]
    containers = pod_spec(objects, "StatefulSet", "redis")["containers"]
    assert [c["name"] for c in containers] == ["redis", "sentinel"]


def test_passwords_come_from_the_mounted_secret_into_memory_volumes(chart: cdk8s.Chart) -> None:
    objects = failover_redis(chart)
    assert not [o for o in objects if o["kind"] == "Secret"]
    for kind, name in (("StatefulSet", "redis"), ("Deployment", "redis-proxy")):
        spec = pod_spec(objects, kind, name)
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["password"]["secret"]["secretName"] == "redis-passwd"
        for container in spec["containers"]:
            assert "env" not in container and "envFrom" not in container, container["name"]
            mounts = {m["name"]: m for m in container["volumeMounts"]}
            assert mounts["password"]["readOnly"] is True, container["name"]
            writable = [m["name"] for m in mounts.values() if not m.get("readOnly")]
            assert all(
                "emptyDir" in volumes[w] and volumes[w]["emptyDir"]["medium"] == "Memory"
                for w in writable
                if w != "data"
            ), container["name"]
    sentinel = find(objects, "ConfigMap", "redis-config")["data"]["sentinel.sh"]
    assert "requirepass" in sentinel and "sentinel auth-pass" in sentinel
    assert "sentinel sentinel-pass" in sentinel
    launch = find(objects, "ConfigMap", "redis-proxy-config")["data"]["launch.sh"]
    assert "od -An -v -tx1" in launch and "sed" not in launch.split("umask 077", 1)[1]


def test_sentinel_and_redis_settings(chart: cdk8s.Chart) -> None:
    objects = failover_redis(
        chart, down_after_ms=3000, failover_timeout_ms=15000, min_replicas_to_write=2
    )
    data = find(objects, "ConfigMap", "redis-config")["data"]
    sentinel = data["sentinel.sh"]
    for line in (
        "sentinel monitor redis %s 6379 2",
        "sentinel down-after-milliseconds redis 3000",
        "sentinel failover-timeout redis 15000",
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
        "sentinel announce-ip %s",
    ):
        assert line in sentinel, line
    assert 'self="$HOSTNAME.redis-headless"' in sentinel
    peers = "redis-0.redis-headless redis-1.redis-headless redis-2.redis-headless"
    assert (
        f"for peer in {peers}; do" in sentinel and f"for peer in {peers}; do" in data["launch.sh"]
    )
    assert "replica-announce-ip %s" in data["launch.sh"]
    assert "min-replicas-to-write 2\nmin-replicas-max-lag 10\n" in data["redis.conf"]
    items = pod_spec(objects, "StatefulSet", "redis")["volumes"][0]["configMap"]["items"]
    assert {i["key"]: i.get("mode") for i in items} == {
        "launch.sh": 0o555,
        "probe.sh": 0o555,
        "redis.conf": None,
        "stop.sh": 0o555,
        "sentinel.sh": 0o555,
        "sentinel-probe.sh": 0o555,
    }


def test_a_master_being_stopped_hands_over_within_the_grace_period(chart: cdk8s.Chart) -> None:
    objects = failover_redis(chart, failover_timeout_ms=15500)
    spec = pod_spec(objects, "StatefulSet", "redis")
    redis, sentinel = spec["containers"]
    assert redis["lifecycle"] == {
        "preStop": {"exec": {"command": ["/bin/sh", "/opt/journal-redis/stop.sh"]}}
    }
    assert "lifecycle" not in sentinel
    # The hand-over waits one failover-timeout at most (16 s, rounded up); redis-server's
    # own shutdown gets 10 s more; the preStop hook counts in the grace period.
    assert spec["terminationGracePeriodSeconds"] == 26
    stop = find(objects, "ConfigMap", "redis-config")["data"]["stop.sh"]
    for line in (
        "deadline=$(($(date +%s) + 16))",
        "redis-cli -p 6379 client pause 26000 write > /dev/null",
        'reply="$(timeout 2 redis-cli -h "$peer" -p 26379 sentinel failover redis 2>&1)"',
        'redis-cli -p 6379 replicaof "$master" 6379 > /dev/null',
        "redis-cli -p 6379 client unpause > /dev/null",
    ):
        assert line in stop, line
    proxy = pod_spec(objects, "Deployment", "redis-proxy")
    assert "terminationGracePeriodSeconds" not in proxy


def test_a_restarting_pod_never_starts_as_a_second_master(chart: cdk8s.Chart) -> None:
    launch = find(failover_redis(chart), "ConfigMap", "redis-config")["data"]["launch.sh"]
    # Named by the sentinels: writes refused (min-replicas-to-write above the 2 replicas)
    # until a quorum confirms it; the configured value (1) comes back after.
    assert "printf 'min-replicas-to-write %s\\n' 3" in launch
    assert 'if [ "$seen" -ge 2 ]; then' in launch
    assert "redis-cli -p 6379 config set min-replicas-to-write 1 > /dev/null" in launch
    # Pod 0 bootstraps only when no other pod exists.
    assert (
        'while [ -z "$master" ] && [ "$self" = "redis-0.redis-headless" ] && others_exist; do'
        in launch
    )
    assert "getent hosts" in launch


def test_haproxy_routes_to_the_master_that_takes_writes(chart: cdk8s.Chart) -> None:
    config = find(failover_redis(chart, check_interval_ms=500), "ConfigMap", "redis-proxy-config")
    cfg = config["data"]["haproxy.cfg"]
    checks = [line.strip() for line in cfg.splitlines() if line.strip().startswith("tcp-check")]
    assert checks == [
        "tcp-check connect",
        "tcp-check send-binary @AUTH@",
        "tcp-check expect string +OK",
        "tcp-check send info\\ replication\\r\\n",
        "tcp-check expect min-recv 40 rstring role:master",
        "tcp-check send DEL\\ journal-k8s:proxy-check\\r\\n",
        "tcp-check expect min-recv 3 rstring ^:[0-9]",
        "tcp-check send QUIT\\r\\n",
        "tcp-check expect string +OK",
    ]
    servers = re.findall(r"^  server (\S+) (\S+) check$", cfg, re.M)
    assert servers == [
        (f"redis-{i}", f"redis-{i}.redis-headless.test.svc.cluster.local:6379") for i in range(3)
    ]
    assert "inter 500 fall 2 rise 1 on-marked-down shutdown-sessions" in cfg
    assert "acl one_master nbsrv(master) eq 1" in cfg


def test_probes_reflect_each_role(chart: cdk8s.Chart) -> None:
    objects = failover_redis(chart)
    redis, sentinel = pod_spec(objects, "StatefulSet", "redis")["containers"]
    assert redis["readinessProbe"]["exec"]["command"][-1] == "ready"
    # Ready only once the sentinels see it: the Redis probe ends with the sentinel check.
    probe = find(objects, "ConfigMap", "redis-config")["data"]["probe.sh"]
    assert 'exec /bin/sh /opt/journal-redis/sentinel-probe.sh "$1" seen' in probe
    assert [sentinel[p]["exec"]["command"] for p in ("livenessProbe", "readinessProbe")] == [
        ["/bin/sh", "/opt/journal-redis/sentinel-probe.sh", "passwd", mode]
        for mode in ("alive", "ready")
    ]
    (proxy,) = pod_spec(objects, "Deployment", "redis-proxy")["containers"]
    assert proxy["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "health"}
    assert proxy["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert proxy["image"] == DEFAULT_PROXY_IMAGE


def test_network_policies_open_sentinel_and_proxy_ports_per_relation(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis", failover=Failover())
    redis.allow_from(StaticSite(chart, "Api", name="api"))
    objects = synth(chart)

    def rule(name: str) -> tuple[Manifest, list[Manifest], list[Manifest]]:
        spec = find(objects, "NetworkPolicy", name)["spec"]
        rules = spec.get("ingress") or spec["egress"]
        peers = rules[0].get("from") or rules[0]["to"]
        return spec["podSelector"]["matchLabels"], peers, rules[0]["ports"]

    api = {"app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "journal"}
    for name, pods, peer, port in (
        ("redis-sentinel", REDIS_LABELS, REDIS_LABELS, 26379),
        ("redis-sentinel-peers", REDIS_LABELS, REDIS_LABELS, 26379),
        ("redis-from-redis-proxy", REDIS_LABELS, PROXY_LABELS, 6379),
        ("redis-proxy-to-redis", PROXY_LABELS, REDIS_LABELS, 6379),
        ("redis-proxy-from-api", PROXY_LABELS, api, 6379),
        ("api-to-redis-proxy", api, PROXY_LABELS, 6379),
        ("redis-from-api", REDIS_LABELS, api, 6379),
    ):
        selected, peers, ports = rule(name)
        assert selected == pods, name
        assert peers == [{"podSelector": {"matchLabels": peer}}], name
        assert ports == [{"port": port, "protocol": "TCP"}], name
    sentinel_policies = [
        o["metadata"]["name"] for o in objects if o["kind"] == "NetworkPolicy" and "26379" in str(o)
    ]
    assert sorted(sentinel_policies) == ["redis-sentinel", "redis-sentinel-peers"]


def test_scripts_are_posix_sh(chart: cdk8s.Chart, tmp_path: Path) -> None:
    objects = failover_redis(chart)
    scripts = {
        **find(objects, "ConfigMap", "redis-config")["data"],
        "proxy-launch.sh": find(objects, "ConfigMap", "redis-proxy-config")["data"]["launch.sh"],
    }
    for name in ("launch.sh", "stop.sh", "sentinel.sh", "sentinel-probe.sh", "proxy-launch.sh"):
        path = tmp_path / name
        path.write_text(scripts[name])
        for argv in (
            [require_binary("dash"), "-n", str(path)],
            [require_binary("shellcheck"), "-s", "sh", str(path)],
        ):
            result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
            assert result.returncode == 0, f"{name} {argv[0]}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"replicas": 2}, "replicas=2 is not allowed with failover: expected at least 3"),
        (
            {"failover": Failover(min_replicas_to_write=3)},
            "failover min_replicas_to_write=3 is not allowed with replicas=3: expected 0..2",
        ),
        (
            {"failover": Failover(quorum=4)},
            "failover quorum=4 is not allowed with replicas=3: expected 1..3",
        ),
    ],
)
def test_fails_on_settings_the_pods_cannot_meet(
    chart: cdk8s.Chart, arguments: dict[str, object], message: str
) -> None:
    arguments = {"failover": Failover(), **arguments}
    with pytest.raises(ValueError, match=re.escape(message)):
        Redis(chart, "Redis", **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"quorum": 0}, "failover quorum=0 is not allowed: expected an integer >= 1"),
        ({"down_after_ms": 10}, "failover down_after_ms=10 is not allowed"),
        ({"min_replicas_to_write": -1}, "failover min_replicas_to_write=-1 is not allowed"),
        ({"proxy_replicas": 0}, "failover proxy_replicas=0 is not allowed"),
        ({"proxy_image": "haproxy"}, "failover proxy_image='haproxy' is not allowed"),
        ({"cluster_domain": "Cluster"}, "failover cluster_domain='Cluster' is not allowed"),
    ],
)
def test_fails_on_invalid_failover_settings(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Failover(**arguments)  # type: ignore[arg-type]


def test_fails_on_wrong_types() -> None:
    with pytest.raises(TypeError, match="failover proxy_resources='1' is not allowed"):
        Failover(proxy_resources="1")  # type: ignore[arg-type]
    chart = cdk8s.Chart(cdk8s.App(), "test", namespace="test")
    with pytest.raises(TypeError, match="failover=True is not allowed: expected"):
        Redis(chart, "Redis", failover=True)  # type: ignore[arg-type]


def test_fails_without_a_namespace() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "test")
    with pytest.raises(ValueError, match="its chart sets no namespace, and HAProxy resolves"):
        Redis(chart, "Redis", failover=Failover())


def test_without_failover_there_is_no_proxy(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis")
    with pytest.raises(ValueError, match="has no failover, hence no proxy"):
        _ = redis.proxy_deployment
    assert redis.failover is None
    assert "sentinel" not in str(synth(chart))


def test_resources_of_proxy_and_sentinel(chart: cdk8s.Chart) -> None:
    objects = failover_redis(
        chart,
        proxy_resources=Resources(cpu="300m", memory="64Mi"),
        sentinel_resources=Resources(cpu="50m", memory="32Mi"),
        proxy_replicas=3,
    )
    (proxy,) = pod_spec(objects, "Deployment", "redis-proxy")["containers"]
    sentinel = pod_spec(objects, "StatefulSet", "redis")["containers"][1]
    assert proxy["resources"]["requests"] == {"cpu": "300m", "memory": "64Mi"}
    assert sentinel["resources"]["limits"] == {"cpu": "50m", "memory": "32Mi"}
    assert find(objects, "Deployment", "redis-proxy")["spec"]["replicas"] == 3
