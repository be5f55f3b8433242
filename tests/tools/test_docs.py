"""make docs: the API reference, generated from the docstrings by pdoc, builds without warnings."""

from __future__ import annotations

import html
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import journal_k8s
from journal_tools import docs, publish
from support import ROOT


def text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_the_reference_builds_without_a_warning_and_shows_the_public_api(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    publish.publish(dist, {"prod": {"prod.k8s.yaml": "kind: List\n"}})
    outdir = dist / "docs"
    with publish._locked(dist):  # a synth publishing: the reference waits its turn
        building = ThreadPoolExecutor(1).submit(docs.main, ["--outdir", str(outdir)])
        time.sleep(0.5)
        assert not outdir.exists()
    assert building.result(timeout=300) == 0
    assert (dist / "prod" / "prod.k8s.yaml").read_text() == "kind: List\n"
    assert publish.published(dist) == ["prod"]
    page = (outdir / "journal_k8s.html").read_text()
    assert (outdir / "journal_k8s" / "grammar.html").is_file()
    for name in journal_k8s.__all__:
        assert f'id="{name}"' in page, name
    shown = re.sub(r"\s+", " ", text(outdir / "journal_k8s.html"))
    # Constructor signatures, as help() shows them, and the Args sections.
    assert "JournalService( scope: constructs.Construct, id: str, *, name: str | None = None," in (
        shown
    )
    assert "frontend_replicas: int | None = None" in shown
    assert "RestrictedNamespace( scope: constructs.Construct, id: str, *, name: str," in shown


def test_a_warning_fails_the_build_and_keeps_the_previous_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outdir = tmp_path / "docs"
    outdir.mkdir()
    (outdir / "index.html").write_text("the previous reference")
    monkeypatch.setattr(docs, "MODULES", ("journal_k8s", "journal_k8s.missing"))
    assert docs.main(["--outdir", str(outdir)]) == 1
    assert "Cannot find spec for journal_k8s.missing" in capsys.readouterr().err
    assert [p.name for p in outdir.iterdir()] == ["index.html"]
    assert (outdir / "index.html").read_text() == "the previous reference"
    assert [p.name for p in tmp_path.iterdir()] == ["docs"], "nothing is left beside it"


def test_the_readme_names_every_public_name() -> None:
    """The README's paragraph on the public API lists all of ``journal_k8s.__all__``."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("The public API (`journal_k8s.__all__`)")
    paragraph = readme[start : readme.index("\n\n", start)]
    assert [n for n in journal_k8s.__all__ if f"`{n}`" not in paragraph] == []
