"""``make bench``: what a synth costs, next to the jsii floor, helm and a baseline revision.

Every figure is the median of several cold processes (min and max beside it). The floor, this
tree and the baseline (``--baseline REV``, checked out into a git worktree under
``dist/bench/``, run by this venv's Python) are measured in the same loop, alternately, in an
order that flips every run, so that a noisy machine affects all of them alike; the ratios
compare figures of the same run. Every measurement but helm's is also counted in machine
instructions (valgrind's callgrind, Python and Node together), which the machine's neighbours
do not move.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import bench_child
from .helm_binary import default_bin_dir

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "dist" / "bench"
STACKS = 100
"""Prod stacks per cold process; the per-stack cost is that of the stacks after the first."""
RSS_STACKS = 50
WARM_EDITS = 5
"""Values edits per warm process; each run counts the median of its edits."""
CALLGRIND = (
    "valgrind",
    "--tool=callgrind",
    "--trace-children=yes",
    "--callgrind-out-file=/dev/null",
)
_COLLECTED = re.compile(r"Collected : (\d+)")
"""callgrind's count of a process's instructions, in its log."""
COUNTED = {"stacks": (2, 22), "warm": (1, 6)}
"""Stacks, or values edits, of the two processes whose instructions ``make bench`` counts."""


@dataclass(frozen=True)
class Target:
    """A bound on a ratio, and the issue that sets it."""

    bound: float
    issue: int

    def verdict(self, ratio: float) -> str:
        met = "met" if ratio <= self.bound else "NOT met"
        return f"target <= {self.bound:.2f}x (issue {self.issue}): {met}"


PER_STACK = Target(1.1, 22)
"""Prod's per-stack cost (metrics off, the objects the baseline made) against the baseline's."""
PER_STACK_METRICS = Target(1.2, 19)
"""Prod's per-stack cost with its metrics on against the baseline's prod with metrics off."""
WARM = Target(1.1, 22)
"""A warm re-synth after a values edit (``make watch``) against the baseline's."""
COLD_FLOOR = Target(1.4, 22)
"""Cold synth of every environment against the jsii floor."""


@dataclass(frozen=True)
class Tree:
    """A source tree measured with this venv's Python: this one, or a baseline's worktree."""

    label: str
    root: Path
    packages: Path | None = None
    """Where the packages that the tree's lock pins and this venv lacks are installed."""

    def env(self) -> dict[str, str]:
        """This process's environment with the tree's own packages first on the path."""
        paths = [self.root / "constructs", *([self.packages] if self.packages else [])]
        return {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}

    def child(self, *arguments: str) -> dict[str, float]:
        """One measuring process of ``bench_child`` in this tree: its JSON figures."""
        output, _ = run_alone(
            [sys.executable, "-O", "-c", Path(bench_child.__file__).read_text(), *arguments],
            cwd=self.root,
            env=self.env(),
        )
        figures: dict[str, float] = json.loads(output.splitlines()[-1])
        return figures

    def instructions(self, *arguments: str | Path) -> float:
        """Machine instructions of one ``python -O`` run in this tree, its jsii Node processes
        included, counted by callgrind with a fixed hash seed.

        Raises:
            RuntimeError: callgrind did not count the Node processes too.
        """
        with tempfile.TemporaryDirectory() as logs:
            subprocess.run(
                [*CALLGRIND, f"--log-file={logs}/%p.log", sys.executable, "-O", *arguments],
                cwd=self.root,
                env={**self.env(), "PYTHONHASHSEED": "0"},
                check=True,
                stdout=subprocess.DEVNULL,
            )
            processes = _collected(Path(logs))
        if len(processes) < 3:  # Python, the jsii launcher and the jsii kernel
            raise RuntimeError(f"callgrind counted {len(processes)} processes, not 3")
        return float(sum(processes))

    def child_instructions(self, kind: str, *flags: str) -> float:
        """Instructions of one unit of a ``bench_child`` measurement (a stack, or a warm
        re-synth): the difference between two processes (``COUNTED``), over the units between
        them, so that imports and the first synth are left out."""
        script = Path(bench_child.__file__).read_text()
        fewer, more = COUNTED[kind]
        counts = [self.instructions("-c", script, kind, str(n), *flags) for n in (fewer, more)]
        return (counts[1] - counts[0]) / (more - fewer)

    def timed(self, *arguments: str | Path) -> float:
        """Wall time of one ``python -O`` run in this tree, which must succeed."""
        _, seconds = run_alone([sys.executable, "-O", *arguments], cwd=self.root, env=self.env())
        return seconds


SESSION_END = 10.0
"""Seconds a measurement's processes may outlive it (the jsii kernel's Node: some ms)."""


def run_alone(command: Sequence[str | Path], **options: Any) -> tuple[str, float]:
    """Run ``command`` in a new session: its standard output and its wall time, returned once
    every process of the session has ended.

    A synth leaves with ``os._exit``: its jsii kernel (two Node processes) ends some ms after
    it, and would otherwise run beside the next measurement. That time is not counted.

    Raises:
        subprocess.CalledProcessError: the command failed.
        RuntimeError: a process of the session still runs ``SESSION_END`` seconds after it.
    """
    start = time.perf_counter()
    with subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.PIPE, text=True, **options
    ) as process:
        output, _ = process.communicate()
        seconds = time.perf_counter() - start
    deadline = time.monotonic() + SESSION_END
    while _session_alive(process.pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{command[0]}: its session still runs {SESSION_END:.0f} s after it")
        time.sleep(0.002)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command, output)
    return output, seconds


def _session_alive(session: int) -> bool:
    """Whether a process of ``session`` still runs (zombies have ended), read from ``/proc``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the command's name in parentheses: state, ppid, pgrp, session, ...
            state, _, _, sid = stat.read_text().rsplit(")", 1)[1].split()[:4]
        except (OSError, IndexError, ValueError):
            continue  # it ended while being read
        if int(sid) == session and state not in ("Z", "X"):
            return True
    return False


@dataclass
class Samples:
    """Timings in seconds, one per run, of each measurement (a row) for each tree (a column)."""

    runs: int
    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, row: str, column: str, value: float) -> None:
        self.seconds.setdefault((row, column), []).append(value)

    def median(self, row: str, column: str) -> float | None:
        found = self.seconds.get((row, column))
        return statistics.median(found) if found else None


def baseline_tree(revision: str) -> Tree:
    """``revision`` checked out (detached) into ``dist/bench/baseline``, reused while it is the
    same commit, with its ``-O`` bytecode written as ``make setup`` writes this tree's."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    path = OUT / "baseline"
    head = subprocess.run(
        ["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    if head != commit:
        if path.exists():
            subprocess.run(["git", "worktree", "remove", "--force", path], cwd=ROOT, check=False)
            shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", path, commit], cwd=ROOT, check=True
        )
    write_bytecode(path / "constructs")
    return Tree(revision, path, baseline_packages(path / "requirements.lock"))


def baseline_packages(lock: Path) -> Path | None:
    """The pins of a baseline's ``lock`` that this tree's lock does not hold, installed (no
    dependencies, ``-O`` bytecode written) under ``dist/bench/baseline-packages``; ``None``
    when there are none. Reused while those pins are the same."""
    ours = set(_pins(ROOT / "requirements.lock"))
    missing = sorted(pin for pin in _pins(lock) if pin not in ours)
    if not missing:
        return None
    target = OUT / "baseline-packages"
    stamp = target / ".pins"
    if not stamp.is_file() or stamp.read_text().split() != missing:
        shutil.rmtree(target, ignore_errors=True)
        install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        subprocess.run([*install, "--target", str(target), *missing], check=True)
        write_bytecode(target)
        stamp.write_text("\n".join(missing) + "\n")
    return target


def _pins(lock: Path) -> list[str]:
    return [line for line in lock.read_text().splitlines() if line and not line.startswith("#")]


def write_bytecode(folder: Path) -> None:
    """Write the ``-O`` bytecode of a folder of packages, so that no run compiles them."""
    subprocess.run(
        [sys.executable, "-O", "-m", "compileall", "-q", "-j", "0", folder],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def helm_binary() -> Path | None:
    """The project's helm, when ``make helm`` has exported a chart and installed it."""
    helm = default_bin_dir() / "helm"
    chart = ROOT / "dist" / "helm" / "journal-k8s"
    return helm if helm.exists() and chart.is_dir() else None


def _collected(logs: Path, wait: float = 300) -> list[int]:
    """The instructions of each process that callgrind logged in ``logs``, once each has ended:
    Node outlives a Python that leaves with ``os._exit``, under callgrind for seconds.

    Raises:
        RuntimeError: a process has not ended within ``wait`` seconds.
    """
    deadline = time.monotonic() + wait
    while True:
        found = [_COLLECTED.findall(log.read_text()) for log in logs.iterdir()]
        if all(found):
            return [int(n) for each in found for n in each]
        if time.monotonic() > deadline:
            raise RuntimeError(f"a process counted by callgrind did not end within {wait:.0f} s")
        time.sleep(0.2)


def variants(each: Tree, tree: Tree) -> list[tuple[str, tuple[str, ...]]]:
    """The per-stack rows of a tree, with their ``bench_child stacks`` flags: prod without
    metrics in both trees (a tree that has none ignores the flag), and this tree's prod as it
    is."""
    found: list[tuple[str, tuple[str, ...]]] = [("per stack, prod", ("--no-metrics",))]
    if each is tree:
        found.append(("per stack, prod with metrics", ()))
    return found


def count(tree: Tree, baseline: Tree | None) -> dict[tuple[str, str], float]:
    """The instructions of each measurement (row, tree label) but helm's, two processes at a
    time (a count does not depend on what else runs); empty without valgrind."""
    if shutil.which("valgrind") is None:
        return {}
    trees = [tree] if baseline is None else [baseline, tree]
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: dict[tuple[str, str], Future[float]] = {
            ("jsii floor", ""): pool.submit(tree.instructions, "-c", "import cdk8s_plus_27")
        }
        for each in trees:
            out = OUT / "count" / ("baseline" if each is baseline else "tree")
            pending["cold synth", each.label] = pool.submit(
                each.instructions, "app.py", "--outdir", out
            )
            for row, flags in variants(each, tree):
                pending[row, each.label] = pool.submit(each.child_instructions, "stacks", *flags)
            pending["warm re-synth", each.label] = pool.submit(each.child_instructions, "warm")
    return {key: future.result() for key, future in pending.items()}


def measure(runs: int, tree: Tree, baseline: Tree | None) -> Samples:
    """Every measurement, run by run, the trees alternating."""
    samples = Samples(runs)
    trees = [tree] if baseline is None else [baseline, tree]
    helm = helm_binary()
    for each in trees:  # a first synth reads every file from disk: not counted
        each.timed("app.py", "--outdir", OUT / "synth" / "warm-up")
    for run in range(runs):
        samples.add("jsii floor", "", tree.timed("-c", "import cdk8s_plus_27"))
        for each in trees if run % 2 == 0 else trees[::-1]:
            out = OUT / "synth" / ("baseline" if each is baseline else "tree")
            samples.add("cold synth", each.label, each.timed("app.py", "--outdir", out))
            for row, flags in variants(each, tree):
                figures = each.child("stacks", str(STACKS), *flags)
                samples.add(row, each.label, figures["per_stack"])
            samples.add("warm re-synth", each.label, each.child("warm", str(WARM_EDITS))["seconds"])
        if helm is not None:
            chart = ROOT / "dist" / "helm" / "journal-k8s"
            _, seconds = run_alone(
                [helm, "template", "journal", chart, "-f", chart / "values-prod.yaml"]
            )
            samples.add("helm template, prod", "", seconds)
    return samples


ROWS = (
    ("jsii floor", "jsii floor (python -O -c 'import cdk8s_plus_27')"),
    ("cold synth", "cold synth, all environments"),
    ("per stack, prod", "per stack, prod with metrics off"),
    ("per stack, prod with metrics", "per stack, prod with metrics"),
    ("warm re-synth", "warm re-synth after a values edit"),
    ("helm template, prod", "helm template, prod"),
)
COMPARISONS: tuple[tuple[str, str, Target | None], ...] = (
    ("per stack, prod", "per stack, prod", PER_STACK),
    ("per stack, prod with metrics", "per stack, prod", PER_STACK_METRICS),
    ("warm re-synth", "warm re-synth", WARM),
    ("cold synth", "cold synth", None),
)
"""Each ratio to the baseline: this tree's row, the baseline's row, and its target."""


def _figure(values: Sequence[float] | None) -> str:
    if not values:
        return ""
    scale, unit = (1000, "ms") if max(values) < 0.2 else (1, "s")
    median = statistics.median(values) * scale
    return f"{median:.3g} {unit} ({min(values) * scale:.3g}-{max(values) * scale:.3g})"


def report(
    samples: Samples,
    tree: Tree,
    baseline: Tree | None,
    rss: dict[str, str],
    counts: dict[tuple[str, str], float] | None = None,
) -> list[str]:
    """The table and the verdict on each target, as printed lines; writes the CSVs."""
    columns = ["", *([baseline.label] if baseline else []), tree.label]
    heading = f"median (min-max) of {samples.runs} runs"
    lines = [f"{heading:46}" + "".join(f"{c or 'every tree':>26}" for c in columns)]
    for row, title in ROWS:
        cells = [_figure(samples.seconds.get((row, c))) for c in columns]
        if any(cells):
            lines.append(f"{title:46}" + "".join(f"{cell:>26}" for cell in cells))
    lines.append("")
    floor = samples.median("jsii floor", "")
    assert floor is not None
    for column in columns[1:]:
        synth = samples.median("cold synth", column)
        assert synth is not None
        verdict = COLD_FLOOR.verdict(synth / floor) if column == tree.label else ""
        spread = _per_run(samples.seconds["cold synth", column], samples.seconds["jsii floor", ""])
        lines.append(f"cold synth / jsii floor, {column}: {synth / floor:.2f}x {spread}  {verdict}")
    if baseline is None:
        lines.append("(no BASELINE: the per-stack and warm re-synth targets need one)")
    else:
        lines += [_ratio(samples, tree.label, baseline.label, *c) for c in COMPARISONS]
    lines += [f"peak RSS at {RSS_STACKS} stacks, {label}: {text}" for label, text in rss.items()]
    lines += _instruction_lines(counts or {}, tree, baseline)
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "bench.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["measurement", "tree", "median_s", "min_s", "max_s", "runs"])
        for (row, column), values in samples.seconds.items():
            median, low, high = statistics.median(values), min(values), max(values)
            writer.writerow([row, column, *(f"{v:.4f}" for v in (median, low, high)), len(values)])
    with (OUT / "instructions.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["measurement", "tree", "instructions"])
        writer.writerows(
            [row, column, f"{value:.0f}"] for (row, column), value in (counts or {}).items()
        )
    return lines


def _instruction_lines(
    counts: dict[tuple[str, str], float], tree: Tree, baseline: Tree | None
) -> list[str]:
    """The instruction counts and, against the floor and the baseline, their ratios and
    targets."""
    if not counts:
        return ["(no valgrind: nothing is counted in instructions)"]
    lines = ["", "instructions (callgrind, Python and Node; a stack or a re-synth each):"]
    lines += [
        f"  {row}, {column or 'every tree'}: {n / 1e6:.1f} M" for (row, column), n in counts.items()
    ]
    floor, synth = counts.get(("jsii floor", "")), counts.get(("cold synth", tree.label))
    if floor and synth:
        # Work, not time: at a cold start Node compiles on threads beside its main one while
        # Python goes on, so the two do not scale alike; the target is on time.
        lines.append(f"cold synth / jsii floor, in instructions: {synth / floor:.2f}x")
    for row, base_row, target in COMPARISONS:
        new = counts.get((row, tree.label))
        old = counts.get((base_row, baseline.label)) if baseline else None
        if new is not None and old and baseline is not None:
            verdict = target.verdict(new / old) if target else ""
            lines.append(
                f"{row} / {baseline.label}'s {base_row}, in instructions: {new / old:.2f}x  "
                + verdict
            )
    return lines


def _ratio(
    samples: Samples, column: str, base: str, row: str, base_row: str, target: Target | None
) -> str:
    new, old = samples.median(row, column), samples.median(base_row, base)
    assert new is not None and old is not None
    verdict = target.verdict(new / old) if target else ""
    spread = _per_run(samples.seconds[row, column], samples.seconds[base_row, base])
    return f"{row} / {base}'s {base_row}: {new / old:.2f}x {spread}  {verdict}"


def _per_run(news: Sequence[float], olds: Sequence[float]) -> str:
    """Each run's own ratio, as median and range: both figures of a run were measured within
    seconds of each other."""
    paired = [n / o for n, o in zip(news, olds, strict=True)]
    low, high = min(paired), max(paired)
    return f"(per run: median {statistics.median(paired):.2f}x, {low:.2f}-{high:.2f})"


def _plot(samples: Samples, columns: Sequence[str], path: Path) -> None:
    """Seconds against stack count: each tree's prod (median per-stack cost) and helm."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 4))
    counts = range(1, STACKS + 1)
    for column in columns:
        for row in ("per stack, prod", "per stack, prod with metrics"):
            slope = samples.median(row, column)
            if slope is not None:
                label = f"cdk8s synth, {row.removeprefix('per stack, ')} ({column})"
                axes.plot(counts, [n * slope for n in counts], label=label)
    helm = samples.median("helm template, prod", "")
    if helm is not None:
        axes.plot(counts, [n * helm for n in counts], label="helm template, prod")
    axes.set_xlabel("journal stacks (one namespace each)")
    axes.set_ylabel("seconds beyond the first stack (median)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make bench``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument(
        "--baseline", metavar="REV", help="a git revision measured side by side (e.g. d00559e)"
    )
    arguments = parser.parse_args(argv)
    from journal_tools.node import use_bundled_node

    use_bundled_node()  # the floor and every child run on the same Node 24
    tree = Tree("this tree", ROOT)
    write_bytecode(ROOT / "constructs")
    baseline = baseline_tree(arguments.baseline) if arguments.baseline else None
    samples = measure(arguments.runs, tree, baseline)
    rss = {}
    for each in [t for t in (baseline, tree) if t is not None]:
        figures = each.child("stacks", str(RSS_STACKS))
        rss[each.label] = (
            f"python {figures['python_rss_mib']:.0f} MiB, node {figures['node_rss_mib']:.0f} MiB"
        )
    counts = count(tree, baseline)
    lines = report(samples, tree, baseline, rss, counts)
    columns = [c for c in ((baseline.label if baseline else None), tree.label) if c]
    _plot(samples, columns, OUT / "bench.png")
    print("\n".join([*lines, "", f"wrote {OUT / 'bench.csv'} and {OUT / 'bench.png'}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
