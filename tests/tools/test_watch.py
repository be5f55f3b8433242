"""make watch: a warm process re-synthesizes on values edits, atomically, and shows the diff."""

from __future__ import annotations

import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import watchfiles

import app
from journal_tools import synth
from journal_tools import watch as watch_command
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

    def edits() -> Iterator[set[str]]:
        dev.write_text(original.replace("replicas: 1", "replicas: 2", 1))
        yield {"dev.yaml"}
        yield set()  # a quiet step of the watcher: nothing to do
        published.append((outdir / "dev" / synth.MANIFEST_FILE).read_text())
        dev.write_text("frontend: {replicas: 0}\n")
        yield {"dev.yaml"}

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


def test_the_command_sees_an_edit_made_as_soon_as_it_says_watching(
    environments: Path, tmp_path: Path
) -> None:
    """`make watch` as a real process, with the real file watcher, edited right away."""
    outdir = tmp_path / "dist"
    command = [sys.executable, "-O", "-m", "journal_tools.watch"]
    arguments = ["--environments", str(environments), "--outdir", str(outdir)]
    process = subprocess.Popen([*command, *arguments], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    # A thread reads the lines: select() on a buffered pipe misses lines already buffered.
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)  # the command ended

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        report = read_until(lines, "watching")
        dev = environments / "dev.yaml"
        dev.write_text(dev.read_text().replace("journalEntries: 50", "journalEntries: 51"))
        report += read_until(lines, " identical")
    finally:
        process.kill()
        process.wait()
        reader.join()
        process.stdout.close()
    text = "".join(report)
    assert text.count("re-synthesized 3 environments") == 2
    assert "ConfigMap/frontend-config  data.journalEntries: '50' → '51'" in text
    assert "journalEntries: '51'" in (outdir / "dev" / synth.MANIFEST_FILE).read_text()


def read_until(lines: queue.Queue[str | None], marker: str, timeout: float = 60) -> list[str]:
    """Lines up to the first containing ``marker``; a failure at the end or after ``timeout``."""
    read: list[str] = []
    deadline = time.monotonic() + timeout
    while not read or marker not in read[-1]:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line with {marker!r} after {timeout} s: {read}") from None
        assert line is not None, f"the command ended before a line with {marker!r}: {read}"
        read.append(line)
    return read


def test_the_watcher_runs_before_the_first_synth(
    environments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So an edit made while the first synth runs is not missed."""
    events: list[str] = []

    def fake_watch(*_: object, **__: object) -> Iterator[set[str]]:
        events.append("watcher started")
        yield set()
        raise KeyboardInterrupt

    real_synthesize = synth.synthesize

    def recording_synthesize(*arguments: Any, **keywords: Any) -> dict[str, str]:
        events.append("synth")
        return real_synthesize(*arguments, **keywords)

    monkeypatch.setattr(watchfiles, "watch", fake_watch)
    monkeypatch.setattr(synth, "synthesize", recording_synthesize)
    arguments = ["--environments", str(environments), "--outdir", str(tmp_path / "dist")]
    assert watch_command.main(arguments) == 0
    assert events == ["watcher started", "synth"]


def test_a_missing_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert watch_command.main(["--environments", str(tmp_path / "nowhere")]) == 1
    assert f"watch failed: {tmp_path / 'nowhere'}: no such folder" in capsys.readouterr().out


def test_reports_removals_and_publish_errors_and_keeps_watching(
    environments: Path, tmp_path: Path
) -> None:
    outdir = tmp_path / "dist"

    def edits() -> Iterator[set[str]]:
        (environments / "staging.yaml").unlink()
        yield {"staging.yaml"}
        assert not (outdir / "staging").exists()
        (outdir / "dev" / synth.MANIFEST_FILE).unlink()
        (outdir / "dev").rmdir()
        (outdir / "dev").write_text("mine")  # in the way of the output
        yield {"dev.yaml"}
        (outdir / "dev").unlink()
        yield {"dev.yaml"}

    lines: list[str] = []
    watch(environments, outdir, edits(), lines.append)
    report = "\n".join(lines)
    assert f"removed from {outdir}/: staging" in report
    assert "dev: in the way of the output" in report
    assert report.count("re-synthesized 2 environments") == 2
    assert (outdir / "dev" / synth.MANIFEST_FILE).is_file()
