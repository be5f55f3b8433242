"""make bench: its measurements run and its arithmetic is right (timings live in the bench)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from journal_tools import bench, bench_child
from support import ROOT, require_binary


def run_child(*arguments: str) -> tuple[Any, str]:
    """One of the bench's measuring processes, run in this tree as the bench runs it in each
    tree (``python -O -c`` with the child's text): its JSON figures and its stderr."""
    result = subprocess.run(
        [sys.executable, "-O", "-c", Path(bench_child.__file__).read_text(), *arguments],
        cwd=ROOT,
        env=bench.Tree("this tree", ROOT).env(),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(result.stdout.splitlines()[-1]), result.stderr


def test_a_stack_run_reports_time_and_memory() -> None:
    figures, stderr = run_child("stacks", "2")
    assert set(figures) == {"seconds", "per_stack", "python_rss_mib", "node_rss_mib"}
    assert 0 < figures["per_stack"] < figures["seconds"]
    assert figures["python_rss_mib"] > 10
    assert figures["node_rss_mib"] > 10
    assert "end-of-life" not in stderr


def test_a_stack_run_without_metrics_reports_time_too() -> None:
    """The side-by-side measurement of prod's per-stack cost with its metrics off."""
    figures, _ = run_child("stacks", "1", "--no-metrics")
    assert figures["seconds"] > 0
    assert "per_stack" not in figures  # no stack after the first


@pytest.mark.parametrize("count", [0, 1, 8, 9, 10, 99])
def test_the_stacks_after_the_first_are_timed_in_blocks(count: int) -> None:
    """The per-stack figure is the median of at most 9 blocks' means; every stack counts once."""
    found = bench_child.blocks(list(range(count)))
    assert [i for block in found for i in block] == list(range(count))
    assert len(found) <= bench_child.BLOCKS and all(found)
    assert len({len(block) for block in found[:-1]}) <= 1
    if count == 99:
        assert [len(block) for block in found] == [11] * 9


def test_a_warm_resynth_run_reports_the_median_of_its_edits() -> None:
    figures, _ = run_child("warm", "2")
    assert set(figures) == {"seconds"}
    assert figures["seconds"] > 0


def test_a_measurement_ends_with_its_command_and_waits_for_what_the_command_left() -> None:
    # As a synth leaves its jsii kernel's Node ending after it: the next measurement starts
    # once it has ended, and that wait is not counted.
    start = time.perf_counter()
    output, seconds = bench.run_alone(["sh", "-c", "sleep 0.5 >/dev/null 2>&1 & echo done"])
    assert output == "done\n"
    assert seconds < 0.4
    assert time.perf_counter() - start >= 0.5


def test_a_failed_measurement_raises() -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        bench.run_alone(["sh", "-c", "echo partial; exit 3"])
    assert (failed.value.returncode, failed.value.output) == (3, "partial\n")


def test_a_process_that_outlives_its_measurement_for_long_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench, "SESSION_END", 0.1)
    with pytest.raises(RuntimeError, match="sh: its session still runs"):
        bench.run_alone(["sh", "-c", "sleep 1 >/dev/null 2>&1 & exit 0"])


def test_a_tree_puts_its_own_packages_first() -> None:
    assert bench.Tree("x", Path("/src")).env()["PYTHONPATH"] == "/src/constructs"
    pinned = bench.Tree("x", Path("/src"), Path("/pins")).env()["PYTHONPATH"]
    assert pinned == "/src/constructs:/pins"


def test_a_baseline_gets_the_pins_of_its_lock_that_this_venv_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "OUT", tmp_path)
    lock = tmp_path / "requirements.lock"
    ours = (ROOT / "requirements.lock").read_text()
    lock.write_text(ours)
    assert bench.baseline_packages(lock) is None
    installs: list[list[str]] = []

    def run(command: list[str], **_: object) -> None:
        installs.append([str(part) for part in command])
        if "--target" in command:
            Path(command[command.index("--target") + 1]).mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(bench.subprocess, "run", run)
    lock.write_text(ours + "ruamel.yaml==0.19.1\n")
    target = bench.baseline_packages(lock)
    assert target == tmp_path / "baseline-packages"
    assert installs[0][-1] == "ruamel.yaml==0.19.1" and "--no-deps" in installs[0]
    assert bench.baseline_packages(lock) == target
    assert len(installs) == 2, "installed and compiled once, then reused"


@pytest.mark.parametrize(("ratio", "verdict"), [(1.1, "met"), (1.11, "NOT met")])
def test_a_target_is_met_up_to_its_bound(ratio: float, verdict: str) -> None:
    assert bench.PER_STACK.verdict(ratio).endswith(f"(issue 22): {verdict}")


def test_the_report_gives_each_ratio_to_the_baseline_and_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "OUT", tmp_path)
    tree, baseline = bench.Tree("this tree", ROOT), bench.Tree("d00559e", ROOT)
    samples = bench.Samples(runs=2)
    for row, column, values in [
        ("jsii floor", "", (0.5, 0.5)),
        ("cold synth", "d00559e", (0.8, 0.8)),
        ("cold synth", "this tree", (0.6, 0.8)),
        ("per stack, prod", "d00559e", (0.020, 0.020)),
        ("per stack, prod", "this tree", (0.021, 0.023)),
        ("per stack, prod with metrics", "this tree", (0.025, 0.025)),
        ("warm re-synth", "d00559e", (0.030, 0.030)),
        ("warm re-synth", "this tree", (0.030, 0.030)),
    ]:
        for value in values:
            samples.add(row, column, value)
    counts = {
        ("jsii floor", ""): 4000e6,
        ("cold synth", "this tree"): 5000e6,
        ("per stack, prod", "d00559e"): 160e6,
        ("per stack, prod", "this tree"): 150e6,
        ("per stack, prod with metrics", "this tree"): 200e6,
    }
    lines = bench.report(samples, tree, baseline, {}, counts)
    assert (
        "cold synth / jsii floor, this tree: 1.40x (per run: median 1.40x, 1.20-1.60)  "
        "target <= 1.40x (issue 22): met"
    ) in lines
    assert "cold synth / jsii floor, d00559e: 1.60x (per run: median 1.60x, 1.60-1.60)  " in lines
    assert (
        "per stack, prod / d00559e's per stack, prod: 1.10x (per run: median 1.10x, "
        "1.05-1.15)  target <= 1.10x (issue 22): met"
    ) in lines
    assert (
        "per stack, prod with metrics / d00559e's per stack, prod: 1.25x (per run: median "
        "1.25x, 1.25-1.25)  target <= 1.20x (issue 19): NOT met"
    ) in lines
    assert (tmp_path / "bench.csv").read_text().splitlines()[0] == (
        "measurement,tree,median_s,min_s,max_s,runs"
    )
    assert "  per stack, prod with metrics, this tree: 200.0 M" in lines
    assert "  jsii floor, every tree: 4000.0 M" in lines
    assert "cold synth / jsii floor, in instructions: 1.25x" in lines
    assert (
        "per stack, prod / d00559e's per stack, prod, in instructions: 0.94x  "
        "target <= 1.10x (issue 22): met"
    ) in lines
    assert (
        "per stack, prod with metrics / d00559e's per stack, prod, in instructions: 1.25x  "
        "target <= 1.20x (issue 19): NOT met"
    ) in lines
    assert (tmp_path / "instructions.csv").read_text().splitlines()[1:] == [
        "jsii floor,,4000000000",
        "cold synth,this tree,5000000000",
        '"per stack, prod",d00559e,160000000',
        '"per stack, prod",this tree,150000000',
        '"per stack, prod with metrics",this tree,200000000',
    ]


def test_without_valgrind_the_report_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "OUT", tmp_path)
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    tree = bench.Tree("this tree", ROOT)
    assert bench.count(tree, None) == {}
    samples = bench.Samples(runs=1)
    samples.add("jsii floor", "", 0.5)
    samples.add("cold synth", "this tree", 0.6)
    lines = bench.report(samples, tree, None, {}, {})
    assert "(no valgrind: nothing is counted in instructions)" in lines


def test_callgrind_counts_python_and_the_jsii_node_processes() -> None:
    """A real count of a process that starts the jsii kernel: ``instructions`` raises unless
    callgrind counted Node's processes beside Python's (about 1,000 M instructions)."""
    require_binary("valgrind")
    counted = bench.Tree("this tree", ROOT).instructions("-c", "import constructs")
    assert 200e6 < counted < 5e9


def test_a_unit_is_the_difference_of_two_counts_over_the_units_between(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[tuple[str | Path, ...]] = []

    def instructions(self: bench.Tree, *arguments: str | Path) -> float:
        runs.append(arguments[2:])
        return 1000e6 + 150e6 * int(arguments[3])

    monkeypatch.setattr(bench.Tree, "instructions", instructions)
    tree = bench.Tree("this tree", ROOT)
    assert tree.child_instructions("stacks", "--no-metrics") == 150e6
    assert runs == [("stacks", "2", "--no-metrics"), ("stacks", "22", "--no-metrics")]


def test_counts_are_read_once_every_process_has_ended(tmp_path: Path) -> None:
    """A Node process outlives a Python that leaves with ``os._exit``: its count comes later."""
    (tmp_path / "1.log").write_text("==1== Events    : Ir\n==1== Collected : 12\n")
    (tmp_path / "2.log").write_text("==2== Events    : Ir\n")
    with pytest.raises(RuntimeError, match="did not end within 0 s"):
        bench._collected(tmp_path, wait=0.3)
    (tmp_path / "2.log").write_text("==2== Collected : 30\n")
    assert sorted(bench._collected(tmp_path)) == [12, 30]
