"""Redis construct: names, selectors, governing Service, write path, secrets, validation."""

from __future__ import annotations

import re
import subprocess

import cdk8s
import pytest
from syrupy.assertion import SnapshotAssertion

from journal_k8s import ExistingSecret, Redis, Resources, StaticSite
from support import find, require_binary, synth

PASSWORD_KEY = "passwd"


def test_snapshot(chart: cdk8s.Chart, k8s_snapshot: SnapshotAssertion) -> None:
    Redis(chart, "Redis")
    assert synth(chart) == k8s_snapshot


def test_names_and_attributes(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis", name="cache")
    objects = synth(chart)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == [
        ("ConfigMap", "cache-config"),
        ("NetworkPolicy", "cache"),
        ("NetworkPolicy", "cache-replication"),
        ("PodDisruptionBudget", "cache"),
        ("Service", "cache"),
        ("Service", "cache-headless"),
        ("Service", "cache-write"),
        ("StatefulSet", "cache"),
    ]
    assert (redis.read_host, redis.write_host, redis.port) == ("cache", "cache-write", 6379)
    assert redis.master_host == "cache-0.cache-headless"
    assert redis.password == ExistingSecret(name="redis-passwd", key="passwd")


def test_governing_service_is_headless_and_publishes_not_ready_pods(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis")
    objects = synth(chart)
    governing = find(
        objects, "Service", find(objects, "StatefulSet", "redis")["spec"]["serviceName"]
    )
    assert governing["metadata"]["name"] == "redis-headless"
    assert governing["spec"]["clusterIP"] == "None"
    assert governing["spec"]["publishNotReadyAddresses"] is True


def test_launch_script_replicates_from_the_governing_service(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis")
    script = find(synth(chart), "ConfigMap", "redis-config")["data"]["launch.sh"]
    assert '\'replicaof %s %s\\n\' "redis-0.redis-headless" "6379"' in script
    assert "exec redis-server" in script
    assert "[[" not in script and "slaveof" not in script


def test_write_service_reaches_pod_zero_only(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis")
    objects = synth(chart)
    write = find(objects, "Service", "redis-write")["spec"]
    read = find(objects, "Service", "redis")["spec"]
    assert write["selector"] == {
        **read["selector"],
        "statefulset.kubernetes.io/pod-name": "redis-0",
    }
    assert "clusterIP" not in write


def test_selectors_are_explicit_labels_without_path_hashes(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis")
    objects = synth(chart)
    stateful_set = find(objects, "StatefulSet", "redis")
    pod_labels = stateful_set["spec"]["template"]["metadata"]["labels"]
    selector = stateful_set["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "journal"}
    assert selector.items() <= pod_labels.items()
    for service in (o for o in objects if o["kind"] == "Service"):
        assert service["spec"]["selector"].items() >= selector.items()
    assert "cdk8s.io/metadata.addr" not in str(objects)


def test_password_comes_from_an_existing_secret_and_never_the_manifests(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis", password=ExistingSecret(name="team-redis", key="token"))
    objects = synth(chart)
    assert not [o for o in objects if o["kind"] == "Secret"]
    pod = find(objects, "StatefulSet", "redis")["spec"]["template"]["spec"]
    secret_volume = next(v for v in pod["volumes"] if v["name"] == "password")["secret"]
    assert secret_volume == {
        "defaultMode": 0o440,
        "items": [{"key": "token", "path": "token"}],
        "secretName": "team-redis",
    }
    container = pod["containers"][0]
    assert "env" not in container
    assert container["command"] == ["/bin/sh", "/opt/journal-redis/launch.sh"]


def test_config_mounts_are_read_only_and_roll_the_pods(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis")
    first = find(synth(chart), "StatefulSet", "redis")["spec"]["template"]
    config = next(v for v in first["spec"]["volumes"] if v["name"] == "config")["configMap"]
    assert config["defaultMode"] == 0o444
    assert {item["mode"] for item in config["items"] if "mode" in item} == {0o555}
    assert all("subPath" not in m for m in first["spec"]["containers"][0]["volumeMounts"])
    other = cdk8s.Chart(cdk8s.App(), "other", namespace="test")
    Redis(other, "Redis", password=ExistingSecret(name="redis-passwd", key="other-key"))
    second = find(synth(other), "StatefulSet", "redis")["spec"]["template"]
    annotation = "journal.example.com/config-hash"
    assert (
        first["metadata"]["annotations"][annotation]
        != second["metadata"]["annotations"][annotation]
    )


def test_security_context_runs_as_the_redis_user(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis")
    pod = find(synth(chart), "StatefulSet", "redis")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "fsGroup": 1000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "runAsGroup": 1000,
        "runAsNonRoot": True,
        "runAsUser": 999,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["imagePullPolicy"] == "IfNotPresent"
    run = next(v for v in pod["volumes"] if v["name"] == "run")
    assert run["emptyDir"]["medium"] == "Memory"


def test_probes_authenticate_and_startup_allows_a_long_reload(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis")
    container = find(synth(chart), "StatefulSet", "redis")["spec"]["template"]["spec"][
        "containers"
    ][0]
    for probe, mode in (
        ("readinessProbe", "ready"),
        ("livenessProbe", "alive"),
        ("startupProbe", "started"),
    ):
        assert container[probe]["exec"]["command"] == [
            "/bin/sh",
            "/opt/journal-redis/probe.sh",
            PASSWORD_KEY,
            mode,
        ]
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600


def test_persistence(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis", storage="20Gi", storage_class="ssd", access_mode="ReadWriteOncePod")
    objects = synth(chart)
    claim = find(objects, "StatefulSet", "redis")["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOncePod"],
        "resources": {"requests": {"storage": "20Gi"}},
        "storageClassName": "ssd",
    }
    config = find(objects, "ConfigMap", "redis-config")["data"]["redis.conf"]
    assert "appendonly yes" in config and "appendfsync everysec" in config and "dir /data" in config


def test_lone_master_and_resources(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis", replicas=1, resources=Resources(cpu="2", memory="4Gi"))
    stateful_set = find(synth(chart), "StatefulSet", "redis")
    assert stateful_set["spec"]["replicas"] == 1
    resources = stateful_set["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {
        "limits": {"cpu": "2", "memory": "4Gi"},
        "requests": {"cpu": "2", "memory": "4Gi"},
    }


def test_scripts_are_posix_sh(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis")
    data = find(synth(chart), "ConfigMap", "redis-config")["data"]
    for name in ("launch.sh", "probe.sh"):
        result = subprocess.run(
            [require_binary("dash"), "-n"], input=data[name], text=True, capture_output=True
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_allow_from_twice_is_one_relation(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis")
    worker = StaticSite(chart, "Worker", name="worker")
    redis.allow_from(worker)
    redis.allow_from(worker)
    names = [o["metadata"]["name"] for o in synth(chart) if o["kind"] == "NetworkPolicy"]
    assert names.count("redis-from-worker") == 1
    assert names.count("worker-to-redis") == 1


def test_replication_egress_keeps_dns_open(chart: cdk8s.Chart) -> None:
    Redis(chart, "Redis")
    egress = find(synth(chart), "NetworkPolicy", "redis-replication")["spec"]["egress"]
    assert egress[1]["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"replicas": 0}, "replicas=0 is not allowed: expected an integer >= 1"),
        ({"name": "0redis"}, "name='0redis' is not allowed: it names a Service"),
        ({"image": "redis"}, "image='redis' is not allowed: expected an image reference"),
        ({"image": "redis:7:v1"}, "image='redis:7:v1' is not allowed: expected an image reference"),
        ({"image": "redis:latest"}, "image='redis:latest' is not allowed: expected a pinned tag"),
        ({"image": "redis:latest"}, "image='redis:latest' is not allowed"),
        ({"name": "Redis"}, "name='Redis' is not allowed: expected a DNS-1123 label"),
        ({"name": "r" * 53}, "of at most 52 characters"),
        (
            {"storage": "10 GB"},
            "storage='10 GB' is not allowed: expected a quantity of bytes of at least 1Mi",
        ),
        ({"storage": "0"}, "storage='0' is not allowed"),
        ({"access_mode": "RWO"}, "access_mode='RWO' is not allowed: expected one of"),
        ({"storage_class": "Fast_SSD"}, "storage_class='Fast_SSD' is not allowed"),
        ({"image": " "}, "image=' ' is not allowed"),
        ({"image": "registry:5000/redis"}, "image='registry:5000/redis' is not allowed"),
        # Wrong types get the same kind of message (jsii no longer type-checks the objects).
        ({"storage": 10}, "storage=10 is not allowed: expected a quantity of bytes"),
        ({"name": 7}, "name=7 is not allowed: expected a DNS-1123 label"),
        ({"image": None}, "image=None is not allowed: expected an image reference"),
        ({"storage_class": 1}, "storage_class=1 is not allowed"),
    ],
)
def test_fails_on_invalid_arguments(
    chart: cdk8s.Chart, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Redis(chart, "Redis", **arguments)  # type: ignore[arg-type]


def test_fails_on_invalid_secret_reference() -> None:
    with pytest.raises(ValueError, match="secret key='a/b' is not allowed"):
        ExistingSecret(name="redis-passwd", key="a/b")


def test_each_object_is_reachable_for_json_patches(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis")
    redis.stateful_set.add_json_patch(cdk8s.JsonPatch.add("/spec/minReadySeconds", 10))
    redis.write_service.add_json_patch(cdk8s.JsonPatch.add("/metadata/annotations", {"a": "b"}))
    objects = synth(chart)
    assert find(objects, "StatefulSet", "redis")["spec"]["minReadySeconds"] == 10
    assert find(objects, "Service", "redis-write")["metadata"]["annotations"] == {"a": "b"}
    names = [o.name for o in (redis.config_map, redis.headless_service, redis.read_service)]
    assert names == ["redis-config", "redis-headless", "redis"]
