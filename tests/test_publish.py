"""The publish of dist/: atomic under real kills, cleaned after them, locked, errors as messages.

The kill tests run app.py as ``make synth`` does and stop it with SIGKILL or SIGINT, at each
named step of the publish (a test hook pauses there) and after random delays; after each kill,
every environment of dist/ must read entirely the previous output or entirely the new one.
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import app
from journal_tools import publish, synth
from support import ROOT

State = dict[str, str | None]
NAMES = ("dev", "prod", "qa", "staging")
STEPS = ("written", "first file", "linked", "switched")


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, State, State]:
    """Two versions of environments/: B edits dev, removes staging and adds qa."""
    root = tmp_path_factory.mktemp("sides")
    before, after = root / "before", root / "after"
    shutil.copytree(ROOT / "environments", before)
    shutil.copytree(ROOT / "environments", after)
    dev = after / "dev.yaml"
    dev.write_text(dev.read_text().replace("journalEntries: 50", "journalEntries: 51"))
    (after / "staging.yaml").rename(after / "qa.yaml")
    qa = after / "qa.yaml"
    qa.write_text(qa.read_text().replace("journal-staging", "journal-qa"))
    states = []
    for folder in (before, after):
        rendered = synth.render(synth.load_environments(folder), app.build)
        states.append({name: rendered.get(name) for name in NAMES})
    assert states[0] != states[1]
    return before, after, states[0], states[1]


def state(dist: Path) -> State:
    """What a user reads: each environment's manifest file, or None."""
    result: State = {}
    for name in NAMES:
        path = dist / name / synth.MANIFEST_FILE
        result[name] = path.read_text() if path.is_file() else None
    return result


def start(environments: Path, dist: Path, pause: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != publish.PAUSE_VARIABLE}
    if pause:
        env[publish.PAUSE_VARIABLE] = pause
    command = [sys.executable, "-O", str(ROOT / "app.py")]
    arguments = ["--environments", str(environments), "--outdir", str(dist)]
    return subprocess.Popen(
        [*command, *arguments],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_clean(dist: Path) -> None:
    """Nothing of an interrupted run is left: no temporaries, one or two generations."""
    leftovers = [p.name for p in dist.iterdir() if p.name.startswith((".link-", ".current-"))]
    assert leftovers == []
    assert 1 <= len(list((dist / publish.GENERATIONS).iterdir())) <= 2
    dangling = [p.name for p in dist.iterdir() if p.is_symlink() and not p.exists()]
    assert dangling == []


@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_kill_at_each_step_leaves_all_previous_or_all_new(
    sides: tuple[Path, Path, State, State], tmp_path: Path, kill: signal.Signals
) -> None:
    before, after, old, new = sides
    dist = tmp_path / "dist"
    for step in STEPS:
        synth.synthesize(app.build, before, dist)
        assert state(dist) == old
        process = start(after, dist, pause=step)
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line == f"paused after {step}\n", line
        seen = state(dist)
        process.send_signal(kill)
        stderr = process.stderr.read()
        process.stderr.close()
        process.wait(timeout=30)
        assert state(dist) == seen
        assert seen == (new if step == "switched" else old), step
        if kill == signal.SIGINT:
            assert process.returncode == 130
            assert "synth interrupted" in stderr and "Traceback" not in stderr
        synth.synthesize(app.build, after, dist)  # the next run cleans up and completes
        assert state(dist) == new
        assert_clean(dist)
        assert not (dist / "staging").exists() and not (dist / "staging").is_symlink()


def test_kills_at_random_instants_never_mix(
    sides: tuple[Path, Path, State, State], tmp_path: Path
) -> None:
    before, after, old, new = sides
    dist = tmp_path / "dist"
    randomness = random.Random(13)
    for trial in range(8):
        synth.synthesize(app.build, before, dist)
        process = start(after, dist)
        time.sleep(randomness.uniform(0.3, 1.5))
        process.send_signal(signal.SIGKILL if trial % 2 else signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert "Traceback" not in stderr, f"trial {trial}: {stderr}"
        seen = state(dist)
        assert seen in (old, new), f"trial {trial}: a mix of old and new"
    synth.synthesize(app.build, after, dist)
    assert state(dist) == new
    assert_clean(dist)


def test_a_removed_environment_disappears_and_a_new_one_appears(
    sides: tuple[Path, Path, State, State], tmp_path: Path
) -> None:
    before, after, _old, new = sides
    dist = tmp_path / "dist"
    synth.synthesize(app.build, before, dist)
    (dist / "notes.txt").write_text("kept")
    synth.synthesize(app.build, after, dist)
    assert state(dist) == new
    assert sorted(p.name for p in dist.iterdir() if not p.name.startswith(".")) == [
        "dev",
        "notes.txt",
        "prod",
        "qa",
    ]


def test_a_folder_of_the_old_layout_is_taken_over(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "dev").mkdir(parents=True)
    (dist / "dev" / "old.yaml").write_text("old")
    (dist / ".swap-x1").mkdir()  # left by the publish this one replaces
    publish.publish(dist, {"dev": {"a.yaml": "new"}})
    assert (dist / "dev").is_symlink()
    assert sorted(p.name for p in (dist / "dev").iterdir()) == ["a.yaml"]
    assert not (dist / ".swap-x1").exists()


def hold_lock(dist: Path, seconds: float) -> threading.Thread:
    """Hold ``dist/.lock`` for ``seconds`` in a thread, as another synth would."""
    dist.mkdir(parents=True, exist_ok=True)
    held = threading.Event()

    def hold() -> None:
        with open(dist / publish.LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            held.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    return thread


def test_concurrent_publishes_take_turns(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    holder = hold_lock(dist, 0.5)
    started = time.monotonic()
    publish.publish(dist, {"dev": {"a.yaml": "new"}})
    assert time.monotonic() - started >= 0.4
    holder.join()
    assert (dist / "dev" / "a.yaml").read_text() == "new"


def test_fails_with_a_message_when_another_synth_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmp_path / "dist"
    monkeypatch.setattr(publish, "LOCK_TIMEOUT", 0.2)
    holder = hold_lock(dist, 1.0)
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(dist)]
    assert synth.main(app.build, arguments) == 1
    holder.join()
    assert "another synth is publishing here" in capsys.readouterr().err


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (root only): a real full disk."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount], check=False)
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", mount], check=True)


def test_a_full_disk_is_a_message_and_keeps_the_previous_output(
    tmpfs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmpfs / "dist"
    publish.publish(dist, {"dev": {"a.yaml": "old"}})
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(dist)]
    assert synth.main(app.build, arguments) == 1
    err = capsys.readouterr().err
    assert "cannot write: No space left on device" in err and "Traceback" not in err
    assert (dist / "dev" / "a.yaml").read_text() == "old"
    assert len(list((dist / publish.GENERATIONS).iterdir())) == 1  # the partial one is gone


def test_a_read_only_outdir_is_a_message(tmpfs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subprocess.run(["mount", "-o", "remount,ro", tmpfs], check=True)
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(tmpfs / "dist")]
    assert synth.main(app.build, arguments) == 1
    assert "cannot write: Read-only file system" in capsys.readouterr().err


def test_an_outdir_under_a_file_is_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    outdir = tmp_path / "file" / "dist"
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(outdir)]
    assert synth.main(app.build, arguments) == 1
    assert "cannot write: Not a directory" in capsys.readouterr().err


def test_fails_when_a_file_is_in_the_way_of_an_environment(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "dev").write_text("mine")
    with pytest.raises(publish.PublishError, match="dev: in the way of the output"):
        publish.publish(dist, {"dev": {"a.yaml": "new"}})
    assert (dist / "dev").read_text() == "mine"
