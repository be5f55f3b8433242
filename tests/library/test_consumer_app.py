"""examples/consumer_app.py: a cdk8s-plus-27 team's app composing two journals, checked in YAML."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from journal_tools import schemas
from journal_tools.manifests import from_yaml
from journal_tools.node import bundled_node
from support import ROOT, Manifest, find

EXAMPLE = ROOT / "examples" / "consumer_app.py"


def run_example(python: Path | str, workdir: Path) -> dict[str, list[Manifest]]:
    """Run the example with ``python`` in ``workdir``; its charts' manifests by chart name."""
    env = {**os.environ, "JSII_NODE": str(bundled_node())}
    result = subprocess.run(
        [python, EXAMPLE], cwd=workdir, env=env, text=True, capture_output=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    return {f.name.split(".")[0]: from_yaml(f.read_text()) for f in (workdir / "dist").iterdir()}


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Manifest]]:
    return run_example(sys.executable, tmp_path_factory.mktemp("consumer"))


def paths(ingress: Manifest) -> list[tuple[str, str, int]]:
    return [
        (p["path"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
        for p in ingress["spec"]["rules"][0]["http"]["paths"]
    ]


def test_two_journals_share_a_namespace_without_a_duplicate_name(
    charts: dict[str, list[Manifest]],
) -> None:
    keys = Counter(
        (o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        for objects in charts.values()
        for o in objects
    )
    assert [k for k, n in keys.items() if n > 1] == []
    shop = charts["shop"]
    for prefix in ("blue", "green"):
        find(shop, "StatefulSet", f"{prefix}-redis")
        find(shop, "Deployment", f"{prefix}-frontend")
        find(shop, "Deployment", f"{prefix}-fileserver")


def test_an_added_kplus_route_comes_before_the_root(charts: dict[str, list[Manifest]]) -> None:
    shop = charts["shop"]
    assert paths(find(shop, "Ingress", "blue-ingress")) == [
        ("/admin", "admin", 80),
        ("/api", "blue-frontend", 8080),
        ("/", "blue-fileserver", 80),
    ]
    assert paths(find(shop, "Ingress", "green-ingress")) == [
        ("/api", "green-frontend", 8080),
        ("/", "green-fileserver", 80),
    ]
    # kplus.IngressBackend.from_service(green.api.service) routes to the API's port.
    assert paths(find(shop, "Ingress", "internal")) == [("/api", "green-frontend", 8080)]
    policy = find(shop, "NetworkPolicy", "admin-from-blue-ingress")["spec"]
    assert policy["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert "cdk8s.io/metadata.addr" in policy["podSelector"]["matchLabels"]


def test_a_journal_behind_the_gateway_gets_an_http_route(
    charts: dict[str, list[Manifest]],
) -> None:
    docs = charts["docs"]
    assert not [o for o in docs if o["kind"] == "Ingress"]
    (route,) = [o for o in docs if o["kind"] == "HTTPRoute"]
    assert [r["matches"][0]["path"]["value"] for r in route["spec"]["rules"]] == ["/api", "/"]
    assert route["spec"]["parentRefs"][0]["name"] == "shared-gateway"


def test_the_escape_hatch_patches_the_final_manifest(charts: dict[str, list[Manifest]]) -> None:
    assert find(charts["shop"], "StatefulSet", "blue-redis")["spec"]["minReadySeconds"] == 10
    assert "minReadySeconds" not in find(charts["shop"], "StatefulSet", "green-redis")["spec"]


def test_typed_customization_reaches_the_api_pods(charts: dict[str, list[Manifest]]) -> None:
    pod = find(charts["shop"], "Deployment", "blue-frontend")["spec"]["template"]
    (api,) = pod["spec"]["containers"]
    env = {e["name"]: e for e in api["env"]}
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "debug"}
    assert env["FEATURE_FLAGS"]["valueFrom"] == {
        "configMapKeyRef": {"key": "journal", "name": "flags"}
    }
    assert api["resources"] == {
        "limits": {"cpu": "1", "memory": "1Gi"},
        "requests": {"cpu": "500m", "memory": "512Mi"},
    }
    assert pod["spec"]["tolerations"] == [
        {"effect": "NoSchedule", "key": "dedicated", "operator": "Equal", "value": "web"}
    ]
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    green = find(charts["shop"], "Deployment", "green-frontend")["spec"]["template"]["spec"]
    assert "tolerations" not in green and "nodeSelector" not in green


def test_blue_autoscales_its_api_and_a_kplus_hpa_scales_green_static(
    charts: dict[str, list[Manifest]],
) -> None:
    shop = charts["shop"]
    blue = find(shop, "HorizontalPodAutoscaler", "blue-frontend")["spec"]
    assert (blue["minReplicas"], blue["maxReplicas"]) == (2, 6)
    assert blue["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    green = find(shop, "HorizontalPodAutoscaler", "green-fileserver")["spec"]
    assert green["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "green-fileserver",
    }
    assert (green["minReplicas"], green["maxReplicas"]) == (2, 4)
    for scaled in ("blue-frontend", "green-fileserver"):
        assert "replicas" not in find(shop, "Deployment", scaled)["spec"]
    assert find(shop, "Deployment", "green-frontend")["spec"]["replicas"] == 2


def test_a_worker_in_another_namespace_gets_the_redis_connection(
    charts: dict[str, list[Manifest]],
) -> None:
    jobs, shop = charts["jobs"], charts["shop"]
    worker = find(jobs, "Deployment", "worker")["spec"]["template"]["spec"]
    (container,) = worker["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env == {
        "REDIS_READ_HOST": "blue-redis.shop.svc.cluster.local",
        "REDIS_WRITE_HOST": "blue-redis-write.shop.svc.cluster.local",
        "REDIS_PORT": "6379",
        "REDIS_PASSWORD_FILE": "/etc/redis-passwd/passwd",
    }
    (mount,) = container["volumeMounts"]
    (volume,) = [v for v in worker["volumes"] if v["name"] == mount["name"]]
    assert mount["mountPath"] == "/etc/redis-passwd" and mount["readOnly"] is True
    assert volume["secret"]["secretName"] == "redis-passwd"
    assert volume["secret"]["items"] == [{"key": "passwd", "path": "passwd"}]
    worker_pods = find(jobs, "Deployment", "worker")["spec"]["selector"]["matchLabels"]
    ingress = find(shop, "NetworkPolicy", "blue-redis-from-jobs-worker")
    assert ingress["metadata"]["namespace"] == "shop"
    assert ingress["spec"]["ingress"][0]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "jobs"}},
            "podSelector": {"matchLabels": worker_pods},
        }
    ]
    egress = find(jobs, "NetworkPolicy", "worker-to-shop-blue-redis")
    assert egress["metadata"]["namespace"] == "jobs"
    assert egress["spec"]["podSelector"] == {"matchLabels": worker_pods}
    assert egress["spec"]["egress"][0]["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "blue-redis",
                    "app.kubernetes.io/part-of": "journal",
                }
            },
        }
    ]


def test_kplus_allow_to_a_journal_tier_selects_exactly_its_pods(
    charts: dict[str, list[Manifest]],
) -> None:
    api_pods = {"app.kubernetes.io/name": "green-frontend", "app.kubernetes.io/part-of": "journal"}
    (inbound,) = [
        o
        for objects in charts.values()
        for o in objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].startswith("allowingress")
    ]
    assert inbound["metadata"]["namespace"] == "shop"
    assert inbound["spec"]["podSelector"] == {"matchLabels": api_pods}
    (outbound,) = [
        o
        for o in charts["jobs"]
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].startswith("allowegress")
    ]
    assert outbound["spec"]["egress"][0]["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
            "podSelector": {"matchLabels": api_pods},
        }
    ]


def test_the_kplus_workload_adopts_the_restricted_settings(
    charts: dict[str, list[Manifest]],
) -> None:
    spec = find(charts["shop"], "Deployment", "admin")["spec"]["template"]["spec"]
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["securityContext"]["runAsUser"] == 10001
    (container,) = spec["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_example_type_checks_under_mypy_strict(tmp_path: Path) -> None:
    """A team's app gets the library's types: routes and peers take kplus objects too."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path),
            str(EXAMPLE),
        ],
        env={**os.environ, "MYPYPATH": str(ROOT / "constructs")},
        text=True,
        capture_output=True,
    )
    assert result.returncode == 0, result.stdout


def test_the_readme_shows_this_example_as_it_is() -> None:
    section = (ROOT / "README.md").read_text().split("## Use it in your own cdk8s app", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert block == EXAMPLE.read_text()


@pytest.mark.parametrize("version", schemas.VERSIONS)
def test_every_object_is_strict_valid(charts: dict[str, list[Manifest]], version: str) -> None:
    problems = [
        p for objects in charts.values() for o in objects for p in schemas.validate(o, version)
    ]
    assert problems == []
