"""make diagram: one SVG (and PNG) per environment, outside dist/<env>/, naming every tier."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from journal_tools import diagram, synth

ENVIRONMENTS = ["dev", "prod", "staging"]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def dist(dist: Path) -> Path:
    """The synthesized environments, then drawn by `make diagram` into dist/diagrams/."""
    assert diagram.main(["--dist", str(dist)]) == 0
    return dist


def texts(svg: Path, group: str | None = None) -> list[str]:
    """The text of every <text> element of ``svg``, or of the group with id ``group``."""
    root = ElementTree.parse(svg).getroot()
    if group is not None:
        (root,) = [g for g in root.iter(f"{SVG}g") if g.get("id") == group]
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_one_svg_and_png_per_environment_outside_the_manifest_folders(dist: Path) -> None:
    drawn = sorted(p.name for p in (dist / "diagrams").iterdir())
    assert drawn == [f"{env}.{ext}" for env in ENVIRONMENTS for ext in ("png", "svg")]
    for env in ENVIRONMENTS:
        assert [p.name for p in (dist / env).iterdir()] == [synth.MANIFEST_FILE]
        assert (dist / "diagrams" / f"{env}.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_svg_names_every_tier(dist: Path, environment: str) -> None:
    found = texts(dist / "diagrams" / f"{environment}.svg")
    for title in (
        "Ingress frontend-ingress",
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
    assert f"journal · {environment}   (namespace journal-{environment})" in found
    assert "from namespace ingress-nginx · 8080/TCP" in found


def test_replicas_storage_and_tls_follow_the_environment(dist: Path) -> None:
    dev, prod = (texts(dist / "diagrams" / f"{env}.svg") for env in ("dev", "prod"))
    assert "replicas: 4" in prod
    assert "replicas: 1" in dev
    assert "50Gi · ssd · ReadWriteOnce" in prod
    assert "1Gi · default class · ReadWriteOnce" in dev
    assert "Secret journal-tls" in prod
    assert "Secret journal-tls" not in dev


def test_redis_policy_edge_is_labelled_with_its_port(dist: Path) -> None:
    label = "edge-policy-Deployment-frontend-StatefulSet-redis-label"
    assert texts(dist / "diagrams" / "prod.svg", group=label) == ["6379/TCP"]


def test_svg_is_reproducible(dist: Path, tmp_path: Path) -> None:
    assert diagram.main(["prod", "--dist", str(dist), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "prod.svg").read_bytes() == (dist / "diagrams" / "prod.svg").read_bytes()


def test_fails_without_synthesized_environments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert diagram.main(["--dist", str(tmp_path)]) == 1
    assert f"{tmp_path}: no synthesized environments" in capsys.readouterr().err
