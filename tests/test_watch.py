"""make watch: a warm process re-synthesizes on values edits, atomically, and shows the diff."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import cdk8s
import pytest

import app
from journal_tools import synth
from journal_tools.values import Environment, load_environments
from journal_tools.watch import watch
from support import ROOT


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    """A copy of environments/ to edit."""
    folder = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", folder)
    return folder


def test_each_edit_resynthesizes_and_reports_the_diff(environments: Path, tmp_path: Path) -> None:
    dev = environments / "dev.yaml"
    original = dev.read_text()
    outdir = tmp_path / "dist"
    published: list[str] = []

    def edits() -> Iterator[None]:
        dev.write_text(original.replace("replicas: 1", "replicas: 2", 1))
        yield None
        published.append((outdir / "dev" / synth.MANIFEST_FILE).read_text())
        dev.write_text("frontend: {replicas: 0}\n")
        yield None

    lines: list[str] = []
    watch(environments, outdir, edits(), lines.append)
    report = "\n".join(lines)
    assert report.count("re-synthesized 3 environments") == 2
    assert "Deployment/frontend  spec.replicas: 1 → 2" in report
    assert "synth failed" in report
    assert "frontend.replicas: 0 is not allowed" in report
    assert (outdir / "dev" / synth.MANIFEST_FILE).read_text() == published[0]


def test_cache_rebuilds_only_the_environments_whose_values_changed(environments: Path) -> None:
    built: list[str] = []

    def counting_build(application: cdk8s.App, environment: Environment) -> cdk8s.Chart:
        built.append(environment.name)
        return app.build(application, environment)

    cache = synth.RenderCache()
    first = synth.render(load_environments(environments), counting_build, cache)
    dev = environments / "dev.yaml"
    dev.write_text(dev.read_text().replace("journalEntries: 50", "journalEntries: 60"))
    second = synth.render(load_environments(environments), counting_build, cache)
    assert built == ["dev", "prod", "staging", "dev"]
    assert first["prod"] == second["prod"]
    assert first["dev"] != second["dev"]
    assert second == synth.render(load_environments(environments), app.build)
