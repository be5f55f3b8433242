"""The publish of dist/: plain folders, atomic under real kills, cleaned, locked, messages.

The kill tests run app.py as ``make synth`` does and stop it with SIGKILL, SIGINT or SIGTERM,
at each named step of the publish (a test hook pauses there) and after random delays; after
each kill, every environment of dist/ must read entirely the previous output or entirely the
new one, and an interrupted synth says so in one line.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import app
from journal_tools import diagram, helm_binary, interrupts, publish, synth
from journal_tools.manifests import from_yaml
from support import ROOT, require_binary

State = dict[str, str | None]
NAMES = ("dev", "prod", "qa", "staging")
STEPS = ("first file", "written", "exchanged")
SYNTH = [*interrupts.BLOCKING_PREFIX, sys.executable, "-O", str(ROOT / "app.py")]
"""The synth command as ``make synth`` runs it."""


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
    arguments = ["--environments", str(environments), "--outdir", str(dist)]
    return subprocess.Popen(
        [*SYNTH, *arguments],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C reaches it
    )


def plain_layout(dist: Path) -> list[str]:
    """Every path under ``dist`` that is not a plain directory or a plain file (``os.lstat``)."""
    odd = []
    for folder, directories, files in os.walk(dist):
        for name in [*directories, *files]:
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                odd.append(os.path.join(folder, name))
    assert stat.S_ISDIR(os.lstat(dist).st_mode)
    return odd


def assert_clean(dist: Path) -> None:
    """Nothing of an interrupted run is left beside dist/, and dist/ is plain."""
    assert [p.name for p in dist.parent.iterdir() if p.name.startswith(".dist.")] == []
    assert plain_layout(dist) == []


@pytest.mark.parametrize(
    "kill", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["SIGKILL", "SIGINT", "SIGTERM"]
)
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
        os.killpg(process.pid, kill)
        stderr = process.stderr.read()
        process.stderr.close()
        process.wait(timeout=30)
        assert state(dist) == seen
        assert seen == (new if step == "exchanged" else old), step
        assert plain_layout(dist) == []
        if kill != signal.SIGKILL:
            assert process.returncode == 128 + kill
            assert stderr.startswith("synth interrupted") and stderr.count("\n") == 1, stderr
        synth.synthesize(app.build, after, dist)  # the next run cleans up and completes
        assert state(dist) == new
        assert_clean(dist)
        assert not (dist / "staging").exists() and not (dist / "staging").is_symlink()
        assert publish.published(dist) == ["dev", "prod", "qa"]


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
        os.killpg(process.pid, signal.SIGKILL if trial % 2 else signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert "Traceback" not in stderr, f"trial {trial}: {stderr}"
        seen = state(dist)
        assert seen in (old, new), f"trial {trial}: a mix of old and new"
    synth.synthesize(app.build, after, dist)
    assert state(dist) == new
    assert_clean(dist)


def test_ctrl_c_at_any_instant_is_one_line_and_never_a_traceback(
    sides: tuple[Path, Path, State, State], tmp_path: Path
) -> None:
    """SIGINT to the process group (a terminal's Ctrl-C: Python and Node alike) at 21 instants
    across the first half of a run (the interpreter, the imports, Node starting), then at 12
    across its end (building, checking, publishing, exiting)."""
    before, after, old, new = sides
    dist = tmp_path / "dist"
    synth.synthesize(app.build, before, dist)
    started = time.monotonic()
    process = start(after, dist)
    process.communicate(timeout=60)
    assert process.returncode == 0
    whole = time.monotonic() - started
    # The first half of a run is the interpreter, the imports and Node starting: a fixed second
    # would reach past the end of a run on a quick machine.
    early = [whole * 0.5 * i / 20 for i in range(21)]
    instants = early + [whole * (0.6 + 0.05 * i) for i in range(12)]
    outcomes: dict[int, int] = {}
    for instant in instants:
        synth.synthesize(app.build, before, dist)
        process = start(after, dist)
        time.sleep(instant)
        with contextlib.suppress(ProcessLookupError):  # ended before the instant
            os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        outcomes[process.returncode] = outcomes.get(process.returncode, 0) + 1
        where = f"SIGINT at {instant:.2f} s: exit {process.returncode}: {stderr!r}"
        assert "Traceback" not in stderr and "Error" not in stderr, where
        if process.returncode == 0:
            assert stderr == "" and state(dist) == new, where
        elif process.returncode == -signal.SIGINT:
            # Killed before env(1) blocked the signal (its first instructions): nothing ran,
            # nothing printed; a shell reports it as 130.
            assert stderr == "" and state(dist) == old, where
        else:
            assert process.returncode == 130, where
            assert stderr.startswith("synth interrupted") and stderr.count("\n") == 1, where
            assert state(dist) in (old, new), where
        assert plain_layout(dist) == []
    print(f"{len(instants)} instants (whole run {whole:.2f} s): exit statuses {outcomes}")
    assert outcomes.get(130, 0) >= 20


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


def test_a_folder_of_the_old_layout_is_converted(tmp_path: Path) -> None:
    """dist/ as the publish before this one left it: links into .current, a helm/ alike."""
    dist = tmp_path / "dist"
    for root, name in ((dist, "dev"), (dist, "staging"), (dist / "helm", "journal-k8s")):
        (root / ".generations" / "1" / name).mkdir(parents=True)
        (root / ".generations" / "1" / name / "a.yaml").write_text(f"old {name}")
        if not (root / ".current").is_symlink():
            (root / ".current").symlink_to(".generations/1", target_is_directory=True)
            (root / ".lock").write_text("")
        (root / name).symlink_to(f".current/{name}")
    (dist / "notes.txt").write_text("kept")
    publish.publish(dist, {"dev": {"b.yaml": "new"}})
    assert plain_layout(dist) == []
    assert sorted(p.name for p in dist.iterdir()) == [".published", "dev", "helm", "notes.txt"]
    assert [p.name for p in (dist / "dev").iterdir()] == ["b.yaml"]
    assert sorted(p.name for p in (dist / "helm").iterdir()) == ["journal-k8s"]
    assert (dist / "helm" / "journal-k8s" / "a.yaml").read_text() == "old journal-k8s"
    assert (dist / "notes.txt").read_text() == "kept"


def test_every_path_under_dist_is_a_plain_folder_or_file_and_others_outputs_survive(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    publish.publish(dist / "helm", {"journal-k8s": {"Chart.yaml": "name: journal-k8s\n"}})
    (dist / "diagrams").mkdir()
    (dist / "diagrams" / "prod.svg").write_text("<svg/>")
    (dist / "bench").mkdir()
    (dist / "bench" / "bench.csv").write_text("median\n")
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(dist)]
    assert synth.main(app.build, arguments) == 0
    assert synth.main(app.build, arguments) == 0
    assert plain_layout(dist) == []
    assert sorted(p.name for p in dist.iterdir()) == [
        ".published",
        "bench",
        "dev",
        "diagrams",
        "helm",
        "prod",
        "staging",
    ]
    assert (dist / "helm" / "journal-k8s" / "Chart.yaml").read_text() == "name: journal-k8s\n"
    assert (dist / "diagrams" / "prod.svg").read_text() == "<svg/>"
    assert (dist / "bench" / "bench.csv").read_text() == "median\n"
    assert_clean(dist)


def test_kubectl_reads_dist_env_without_a_slash_and_recursively(tmp_path: Path) -> None:
    """kubectl's own file reading (``--local``: no cluster): dist/prod, and -R over dist/."""
    kubectl = helm_binary.ensure_kubectl()
    dist = tmp_path / "dist"
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(dist)]
    assert synth.main(app.build, arguments) == 0
    env = {**os.environ, "KUBECONFIG": os.devnull}

    def names(*files: str) -> list[str]:
        command = [kubectl, "label", "--local", "-o", "name", *files, "checked=yes"]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    for environment in ("dev", "prod", "staging"):
        objects = from_yaml((dist / environment / synth.MANIFEST_FILE).read_text())
        assert len(names("-f", f"dist/{environment}")) == len(objects) > 10
    assert len(names("-R", "-f", "dist")) == sum(
        len(from_yaml(p.read_text())) for p in dist.glob("*/*.yaml")
    )


def test_a_publish_into_a_folder_below_is_awaited_and_never_lost(tmp_path: Path) -> None:
    """An export into dist/helm holds dist/helm; a synth copying it waits, then keeps it."""
    dist = tmp_path / "dist"
    publish.publish(dist / "helm", {"journal-k8s": {"Chart.yaml": "1"}})
    held = threading.Event()

    def export() -> None:
        with publish._locked(dist / "helm"):
            held.set()
            time.sleep(0.5)
        publish.publish(dist / "helm", {"journal-k8s": {"Chart.yaml": "2"}})

    thread = threading.Thread(target=export)
    thread.start()
    held.wait()
    started = time.monotonic()
    publish.publish(dist, {"dev": {"a.yaml": "new"}})
    assert time.monotonic() - started >= 0.4
    thread.join()
    assert (dist / "helm" / "journal-k8s" / "Chart.yaml").read_text() == "2"
    assert (dist / "dev" / "a.yaml").read_text() == "new"


def hold_lock(
    dist: Path, seconds: float, release: threading.Event | None = None
) -> threading.Thread:
    """Hold the lock of ``dist`` for ``seconds`` (or until ``release`` is set) in a thread,
    as another synth would."""
    dist.mkdir(parents=True, exist_ok=True)
    held = threading.Event()

    def hold() -> None:
        with publish._locked(dist):
            held.set()
            (release or threading.Event()).wait(seconds)

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


def test_make_diagram_takes_turns_with_synth_and_keeps_its_environments(tmp_path: Path) -> None:
    """The diagrams are published into dist/ under the synth's lock, in the same exchange."""
    require_binary("dot")
    dist = tmp_path / "dist"
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(dist)]
    assert synth.main(app.build, arguments) == 0
    manifests = state(dist)
    holder = hold_lock(dist, 0.5)
    started = time.monotonic()
    assert diagram.main(["--dist", str(dist)]) == 0
    assert time.monotonic() - started >= 0.4
    holder.join()
    assert state(dist) == manifests
    assert sorted(publish.published(dist)) == ["dev", "prod", "staging"]
    assert sorted(p.name for p in (dist / "diagrams").iterdir())[:2] == ["dev.png", "dev.svg"]
    assert synth.main(app.build, arguments) == 0  # and a synth keeps them
    assert (dist / "diagrams" / "prod.svg").read_text().startswith("<?xml")
    assert_clean(dist)


def test_a_diagram_publish_killed_at_each_step_leaves_the_old_or_the_new_diagrams(
    tmp_path: Path,
) -> None:
    require_binary("dot")
    dist = tmp_path / "dist"
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(dist)]
    assert synth.main(app.build, arguments) == 0
    publish.publish(dist, {"diagrams": {"prod.svg": "old"}}, record=False)
    for step in STEPS:
        env = {**os.environ, publish.PAUSE_VARIABLE: step}
        command = [sys.executable, "-m", "journal_tools.diagram", "--dist", str(dist)]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        assert f"paused after {step}\n" in iter(process.stderr.readline, "")
        process.kill()
        process.wait(timeout=30)
        process.stderr.close()
        drawn = (dist / "diagrams" / "prod.svg").read_text()
        assert (drawn == "old") is (step != "exchanged"), step
        assert sorted(publish.published(dist)) == ["dev", "prod", "staging"]
        publish.publish(dist, {"diagrams": {"prod.svg": "old"}}, record=False)
    assert_clean(dist)


def test_fails_with_a_message_when_another_synth_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmp_path / "dist"
    monkeypatch.setattr(publish, "LOCK_TIMEOUT", 0.2)
    release = threading.Event()  # held until synth is done, however long its build takes
    holder = hold_lock(dist, 120, release)
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(dist)]
    try:
        assert synth.main(app.build, arguments) == 1
    finally:
        release.set()
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
    assert [p.name for p in tmpfs.iterdir()] == ["dist"]  # the partial one is gone


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


def test_make_synth_runs_the_command_these_tests_run() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert f"\t@{' '.join(interrupts.BLOCKING_PREFIX)} $(PY) -O app.py\n" in makefile


@pytest.mark.parametrize(
    ("target", "command"), [("synth", "-O app.py"), ("watch", "-O -m journal_tools.watch")]
)
def test_make_writes_the_bytecode_of_a_changed_module_before_it_runs(
    target: str, command: str
) -> None:
    """Where the environment sets PYTHONDONTWRITEBYTECODE, no run would write it."""
    changed = "constructs/journal_tools/values.py"
    planned = subprocess.run(
        ["make", "-n", "-W", changed, target], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "-O -m compileall -q -j 0 constructs" in planned
    assert planned.index("-O -m compileall") < planned.index(command)
