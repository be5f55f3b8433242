"""make diagram: one SVG (and PNG) per environment, laid out by Graphviz dot, naming every tier."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from journal_tools import diagram, publish, synth
from journal_tools.manifests import to_yaml
from support import require_binary

ENVIRONMENTS = ["dev", "prod", "staging"]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def dist(dist: Path) -> Path:
    """The synthesized environments, then drawn by `make diagram` into dist/diagrams/."""
    require_binary("dot")
    assert diagram.main(["--dist", str(dist)]) == 0
    return dist


def texts(svg: Path, group: str | None = None) -> list[str]:
    """The text of every <text> element of ``svg``, or of the group with id ``group``."""
    root = ElementTree.parse(svg).getroot()
    if group is not None:
        (root,) = [g for g in root.iter(f"{SVG}g") if g.get("id") == group]
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def centre(svg: Path, node: str) -> float:
    """Where the box ``node`` (kind/name) stands across the picture: the middle of its border."""
    (group,) = [
        g
        for g in ElementTree.parse(svg).getroot().iter(f"{SVG}g")
        if g.get("id") == "node-" + node.replace("/", "-")
    ]
    xs = [
        float(point.split(",")[0])
        for polygon in group.iter(f"{SVG}polygon")
        for point in polygon.get("points", "").split()
    ] or [float(text.get("x", "nan")) for text in group.iter(f"{SVG}text")]
    return (min(xs) + max(xs)) / 2


def test_one_svg_and_png_per_environment_outside_the_manifest_folders(dist: Path) -> None:
    drawn = sorted(p.name for p in (dist / "diagrams").iterdir())
    assert drawn == [f"{env}.{ext}" for env in ENVIRONMENTS for ext in ("png", "svg")]
    for env in ENVIRONMENTS:
        assert [p.name for p in (dist / env).iterdir()] == [synth.MANIFEST_FILE]
        assert (dist / "diagrams" / f"{env}.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(publish.published(dist)) == ENVIRONMENTS  # the synth's record is kept


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_tiers_stand_in_columns_left_to_right_under_their_headings(
    dist: Path, environment: str
) -> None:
    svg = dist / "diagrams" / f"{environment}.svg"
    edge = "HTTPRoute/frontend-route" if environment == "staging" else "Ingress/frontend-ingress"
    columns = [
        [edge],
        ["Service/frontend", "Service/fileserver", "Service/redis"],
        ["Deployment/frontend", "Deployment/fileserver", "StatefulSet/redis"],
        ["ConfigMap/redis-config", "Secret/redis-passwd", "ConfigMap/frontend-config"],
    ]
    headings = [centre(svg, f"column-{column}") for column in range(len(diagram.COLUMNS))]
    assert headings == sorted(headings)
    for column, boxes in enumerate(columns):
        for box in boxes:
            nearest = min(headings, key=lambda heading: abs(heading - centre(svg, box)))
            assert nearest == headings[column], box
    for left, right in itertools.pairwise(columns):
        assert max(centre(svg, box) for box in left) < min(centre(svg, box) for box in right)
    assert set(texts(svg)) >= set(diagram.COLUMNS)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_svg_names_every_tier(dist: Path, environment: str) -> None:
    found = texts(dist / "diagrams" / f"{environment}.svg")
    edge = "HTTPRoute frontend-route" if environment == "staging" else "Ingress frontend-ingress"
    for title in (
        edge,
        "Service frontend",
        "Service fileserver",
        "Service redis",
        "Deployment frontend",
        "Deployment fileserver",
        "StatefulSet redis",
        "ConfigMap redis-config",
        "Secret redis-passwd",
    ):
        assert title in found
    assert f"journal · {environment} (namespace journal-{environment})" in found
    if environment == "staging":
        peer = "gateway-system pods gateway.networking.k8s.io/gateway-name=shared-gateway"
    else:
        peer = "ingress-nginx"
    assert f"namespace {peer}" in found
    edge = diagram.svg_id("edge-policy", f"Peer/namespace {peer}-Deployment/frontend")
    assert texts(dist / "diagrams" / f"{environment}.svg", group=edge) == ["8080/TCP"]


def test_an_http_route_shows_its_gateway_listener_and_paths(dist: Path) -> None:
    found = texts(dist / "diagrams" / "staging.svg")
    assert "Edge" in found
    assert "Gateway gateway-system/shared-gateway" in found
    assert "listener: https" in found
    assert "host: journal.staging.example.com" in found
    label = "edge-ref-HTTPRoute-frontend-route-Service-frontend"
    assert texts(dist / "diagrams" / "staging.svg", group=label) == ["/api → :8080"]


def test_replicas_storage_and_tls_follow_the_environment(dist: Path) -> None:
    dev, prod = (texts(dist / "diagrams" / f"{env}.svg") for env in ("dev", "prod"))
    assert "replicas: 4 to 10, autoscaled (cpu 70%)" in prod  # the API
    assert "replicas: 3 to 6, autoscaled (cpu 70%)" in prod  # NGINX
    assert sum(t.startswith("disruption budget: maxUnavailable 1,") for t in prod) == 4
    assert "replicas: 1" in dev
    assert "50Gi · ssd · ReadWriteOnce" in prod
    assert "1Gi · default class · ReadWriteOnce" in dev
    assert "Secret journal-tls" in prod
    assert "Secret journal-tls" not in dev


def test_redis_policy_edge_is_labelled_with_its_port(dist: Path) -> None:
    label = "edge-policy-Deployment-frontend-StatefulSet-redis"
    assert texts(dist / "diagrams" / "prod.svg", group=label) == ["6379/TCP"]


def test_svg_is_reproducible(dist: Path, tmp_path: Path) -> None:
    assert diagram.main(["prod", "--dist", str(dist), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "prod.svg").read_bytes() == (dist / "diagrams" / "prod.svg").read_bytes()


def test_fails_with_a_message_without_graphviz(
    dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot
    assert diagram.main(["--dist", str(dist), "--out", str(tmp_path / "out")]) == 1
    assert diagram.DOT_MISSING in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_fails_without_synthesized_environments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert diagram.main(["--dist", str(tmp_path)]) == 1
    assert f"{tmp_path}: no synthesized environments" in capsys.readouterr().err


def workload_and_budget(selector: dict[str, object] | None) -> list[dict[str, object]]:
    """A Deployment and a PodDisruptionBudget with ``selector`` (left out when ``None``)."""
    template = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}
    budget_spec: dict[str, object] = {"maxUnavailable": 1}
    if selector is not None:
        budget_spec["selector"] = selector
    return [
        {"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"template": template}},
        {"kind": "PodDisruptionBudget", "metadata": {"name": "a"}, "spec": budget_spec},
    ]


@pytest.mark.parametrize(
    ("selector", "shown"),
    [
        ({"matchLabels": {"app": "a"}}, True),
        ({"matchLabels": {"app": "b"}}, False),
        ({}, True),  # an empty selector selects every pod of the namespace
        (None, False),  # no selector selects no pod (policy/v1)
    ],
)
def test_a_disruption_budget_is_shown_on_the_workloads_it_selects(
    selector: dict[str, object] | None, shown: bool
) -> None:
    box = diagram.architecture(workload_and_budget(selector)).boxes["Deployment/a"]
    assert (
        any(line.startswith("disruption budget: maxUnavailable 1") for line in box.lines) is shown
    )


def test_fails_on_a_selector_operator_the_api_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dev").mkdir()
    bad = {"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]}
    objects = workload_and_budget(bad)
    for obj in objects:
        obj["apiVersion"] = "v1"
    (tmp_path / "dev" / synth.MANIFEST_FILE).write_text(to_yaml(objects))
    assert diagram.main(["--dist", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert "operator 'Gt' is not allowed" in capsys.readouterr().err


def test_the_scrape_path_runs_from_each_service_monitor_to_its_metrics_service(
    dist: Path,
) -> None:
    found = texts(dist / "diagrams" / "prod.svg")
    for tier in ("redis", "redis-proxy", "fileserver"):
        assert f"ServiceMonitor {tier}-metrics" in found
        assert f"Service {tier}-metrics" in found
    assert found.count("scrape metrics /metrics every 30s") == 3
    assert found.count("for the Prometheus selecting") == 3
    assert found.count("release=kube-prometheus-stack") == 3
    assert any(t.startswith("redis-exporter: oliver006/redis_exporter:") for t in found)
    assert any(t.startswith("nginx-exporter: nginx/nginx-prometheus-") for t in found)
    peer = "Peer/namespace monitoring pods app.kubernetes.io/name=prometheus"
    for workload in ("StatefulSet/redis", "Deployment/redis-proxy", "Deployment/fileserver"):
        edge = diagram.svg_id("edge-policy", f"{peer}-{workload}")
        assert texts(dist / "diagrams" / "prod.svg", group=edge) == ["metrics/TCP"]
    assert any(t.startswith("PrometheusRule redis-alerts: RedisExporterDown, ") for t in found)
    # dev keeps metrics off.
    assert not any("ServiceMonitor" in t for t in texts(dist / "diagrams" / "dev.svg"))


def test_each_reference_of_a_pod_is_an_arrow_saying_how_it_is_used(dist: Path) -> None:
    svg = dist / "diagrams" / "prod.svg"

    def label(source: str, target: str) -> list[str]:
        return texts(svg, group=diagram.svg_id("edge-ref", f"{source}-{target}"))

    assert label("Deployment/frontend", "ConfigMap/frontend-config") == ["env JOURNAL_ENTRIES"]
    assert label("Deployment/fileserver", "ConfigMap/fileserver-nginx") == [
        "mount /etc/nginx/journal"
    ]
    assert label("StatefulSet/redis", "PersistentVolumeClaim/redis-data") == ["mount /data"]
    assert label("Deployment/frontend", "Secret/redis-passwd")[0].startswith("mount /etc/")
