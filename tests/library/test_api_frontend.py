"""ApiFrontend: Deployment, Service, settings, Redis wiring by object, probes, policies."""

from __future__ import annotations

import re

import cdk8s
import pytest
from syrupy.assertion import SnapshotAssertion

from journal_k8s import ApiFrontend, ExistingSecret, Redis, Resources
from support import find, synth


def test_snapshot(chart: cdk8s.Chart, k8s_snapshot: SnapshotAssertion) -> None:
    ApiFrontend(chart, "Api", redis=Redis(chart, "Redis"))
    assert [o for o in synth(chart) if o["metadata"]["name"].startswith("frontend")] == k8s_snapshot


def test_book_defaults_with_requests_spelled_right(chart: cdk8s.Chart) -> None:
    ApiFrontend(chart, "Api", redis=Redis(chart, "Redis"))
    objects = synth(chart)
    deployment = find(objects, "Deployment", "frontend")
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "my-repo/journal-server:v1-abcde"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["resources"] == {
        "limits": {"cpu": "1", "memory": "1G"},
        "requests": {"cpu": "1", "memory": "1G"},
    }
    service = find(objects, "Service", "frontend")["spec"]
    assert service["ports"] == [
        {"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}
    ]
    assert service["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert find(objects, "ConfigMap", "frontend-config")["data"] == {"journalEntries": "10"}


def test_redis_wiring_by_object(chart: cdk8s.Chart) -> None:
    redis = Redis(
        chart, "Redis", name="store", password=ExistingSecret(name="store-auth", key="pw")
    )
    ApiFrontend(chart, "Api", redis=redis)
    objects = synth(chart)
    container = find(objects, "Deployment", "frontend")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_READ_HOST"]["value"] == "store"
    assert env["REDIS_WRITE_HOST"]["value"] == "store-write"
    assert env["REDIS_PORT"]["value"] == "6379"
    assert env["REDIS_PASSWORD_FILE"]["value"] == "/etc/redis-passwd/pw"
    assert "REDIS_PASSWORD" not in env
    pod = find(objects, "Deployment", "frontend")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "redis-password")
    assert volume["secret"] == {
        "defaultMode": 0o440,
        "items": [{"key": "pw", "path": "pw"}],
        "secretName": "store-auth",
    }
    mount = next(m for m in container["volumeMounts"] if m["name"] == "redis-password")
    assert mount == {"mountPath": "/etc/redis-passwd", "name": "redis-password", "readOnly": True}
    assert env["JOURNAL_ENTRIES"]["valueFrom"] == {
        "configMapKeyRef": {"key": "journalEntries", "name": "frontend-config"}
    }


def test_redis_is_opened_to_the_frontend_only(chart: cdk8s.Chart) -> None:
    ApiFrontend(chart, "Api", redis=Redis(chart, "Redis"))
    objects = synth(chart)
    ingress = find(objects, "NetworkPolicy", "redis-from-frontend")["spec"]
    assert ingress["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "redis"
    assert ingress["ingress"] == [
        {
            "from": [
                {
                    "podSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/name": "frontend",
                            "app.kubernetes.io/part-of": "journal",
                        }
                    }
                }
            ],
            "ports": [{"port": 6379, "protocol": "TCP"}],
        }
    ]
    egress = find(objects, "NetworkPolicy", "frontend-to-redis")["spec"]
    assert egress["policyTypes"] == ["Egress"]
    dns = egress["egress"][1]  # an egress policy must keep name resolution open
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert egress["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "frontend"


def test_settings_change_rolls_the_pods() -> None:
    def hash_for(entries: int) -> str:
        chart = cdk8s.Chart(cdk8s.App(), "c", namespace="test")
        ApiFrontend(chart, "Api", redis=Redis(chart, "Redis"), journal_entries=entries)
        template = find(synth(chart), "Deployment", "frontend")["spec"]["template"]
        return str(template["metadata"]["annotations"]["journal.example.com/config-hash"])

    assert hash_for(10) == hash_for(10)
    assert hash_for(10) != hash_for(20)


def test_probes_and_security(chart: cdk8s.Chart) -> None:
    ApiFrontend(
        chart, "Api", redis=Redis(chart, "Redis"), ready_path="/api/ready", live_path="/api/live"
    )
    pod = find(synth(chart), "Deployment", "frontend")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/api/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/api/live", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/api/live", "port": "http"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False


def test_resources_and_replicas(chart: cdk8s.Chart) -> None:
    ApiFrontend(
        chart,
        "Api",
        redis=Redis(chart, "Redis"),
        replicas=5,
        resources=Resources(cpu="250m", memory="256Mi"),
    )
    deployment = find(synth(chart), "Deployment", "frontend")
    assert deployment["spec"]["replicas"] == 5
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "250m",
        "memory": "256Mi",
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"replicas": 0}, "replicas=0 is not allowed: expected an integer >= 1"),
        ({"journal_entries": -1}, "journal_entries=-1 is not allowed"),
        ({"port": 80}, "port=80 is not allowed: expected 1024..65535"),
        ({"port": 8080.5}, "port=8080.5 is not allowed: expected 1024..65535"),
        ({"port": True}, "port=True is not allowed"),
        ({"ready_path": "ready"}, "ready_path='ready' is not allowed"),
        ({"name": "Front_End"}, "name='Front_End' is not allowed"),
        ({"image": ""}, "image='' is not allowed: expected an image reference"),
        ({"image": "my-repo/journal-server:latest"}, "is not allowed: expected a pinned tag"),
    ],
)
def test_fails_on_invalid_arguments(
    chart: cdk8s.Chart, arguments: dict[str, object], message: str
) -> None:
    redis = Redis(chart, "Redis")
    with pytest.raises(ValueError, match=re.escape(message)):
        ApiFrontend(chart, "Api", redis=redis, **arguments)  # type: ignore[arg-type]


def test_fails_on_invalid_resources() -> None:
    with pytest.raises(ValueError, match=re.escape("memory='1 GB' is not allowed")):
        Resources(cpu="1", memory="1 GB")
