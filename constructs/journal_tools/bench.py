"""``make bench``: what a synth costs, next to the jsii floor and helm, measured side by side.

Every figure is the median of several cold processes (min and max beside it), with the floor
and the synth run alternately in the same loop so that a noisy machine affects both alike.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .helm_binary import default_bin_dir

ROOT = Path(__file__).resolve().parents[2]
STACK_COUNTS = (1, 10, 100)
METRICS_COUNTS = (STACK_COUNTS[0], STACK_COUNTS[-1])
"""The stack counts also measured with prod's metrics off, for the per-stack cost of metrics."""
RSS_STACKS = 50


@dataclass(frozen=True)
class Sample:
    """Several timings of one measurement, in seconds."""

    name: str
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def timed(argv: Sequence[str | Path], *, env: dict[str, str] | None = None) -> float:
    """Wall time of one run of ``argv``, which must succeed."""
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def python_command(optimize: bool) -> list[str]:
    """This Python, with ``-O`` (as ``make synth`` runs it: no jsii runtime type checks)."""
    return [sys.executable, "-O"] if optimize else [sys.executable]


def stacks_child(count: int, *, metrics: bool = True) -> None:
    """Build and render ``count`` journal stacks in separate namespaces; print cost as JSON.

    Each stack is prod's values; ``metrics=False`` turns prod's metrics off (today's stack
    without exporters, ServiceMonitors and alerts, for the side-by-side comparison).
    """
    start = time.perf_counter()
    from journal_tools.node import use_bundled_node

    use_bundled_node()
    import app  # the deployable app's own build function
    from journal_tools import synth, values

    (prod,) = [e for e in values.load_environments(ROOT / "environments") if e.name == "prod"]
    update: dict[str, object] = {}
    if not metrics and prod.values.metrics is not None:
        update["metrics"] = prod.values.metrics.model_copy(update={"enabled": False})
    stacks = [
        values.Environment(
            name=f"stack-{i}",
            values=prod.values.model_copy(update={"namespace": f"journal-{i}", **update}),
            files=prod.files,
        )
        for i in range(count)
    ]
    synth.render(stacks, app.build)
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "python_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "node_rss_mib": _children_peak_rss_mib(),
            }
        )
    )


def watch_child(edits: int) -> None:
    """Time ``edits`` warm re-synths, each after a values edit, as ``make watch`` runs them."""
    import tempfile

    from journal_tools.node import use_bundled_node

    use_bundled_node()
    import shutil

    import app
    from journal_tools import synth

    with tempfile.TemporaryDirectory() as folder:
        environments = Path(folder) / "environments"
        shutil.copytree(ROOT / "environments", environments)
        cache = synth.RenderCache()
        synth.synthesize(app.build, environments, Path(folder) / "dist", cache)
        dev = environments / "dev.yaml"
        original = dev.read_text()
        seconds = []
        for edit in range(edits):
            dev.write_text(original.replace("journalEntries: 50", f"journalEntries: {51 + edit}"))
            start = time.perf_counter()
            synth.synthesize(app.build, environments, Path(folder) / "dist", cache)
            seconds.append(time.perf_counter() - start)
    print(json.dumps({"seconds": seconds}))


def _children_peak_rss_mib() -> float:
    """Peak RSS of this process's children (the jsii Node kernel), from /proc."""
    peak = 0.0
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            status = Path(f"/proc/{pid}/status")
            for line in status.read_text().splitlines() if status.exists() else []:
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def run_stacks(count: int, optimize: bool, *, metrics: bool = True) -> dict[str, float]:
    """One cold process rendering ``count`` stacks (prod's, with or without its metrics)."""
    off = [] if metrics else ["--no-metrics"]
    result = subprocess.run(
        [
            *python_command(optimize),
            *("-m", "journal_tools.bench", "--child-stacks", str(count), *off),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(result.stdout.splitlines()[-1]))


def helm_binary() -> Path | None:
    """The project's helm, when ``make helm`` has exported a chart and installed it."""
    helm = default_bin_dir() / "helm"
    chart = ROOT / "dist" / "helm" / "journal-k8s"
    return helm if helm.exists() and chart.is_dir() else None


def measure(runs: int, optimize: bool) -> tuple[list[Sample], dict[str, float]]:
    """Every measurement, interleaved run by run."""
    floor, cdk8s_floor, synth, helm = [], [], [], []
    per_count: dict[int, list[float]] = {n: [] for n in STACK_COUNTS}
    without_metrics: dict[int, list[float]] = {n: [] for n in METRICS_COUNTS}
    helm_per_count: dict[int, list[float]] = {n: [] for n in STACK_COUNTS}
    helm_path = helm_binary()
    out = ROOT / "dist" / "bench" / "synth"
    for _ in range(runs):
        floor.append(timed([*python_command(optimize), "-c", "import cdk8s_plus_27"]))
        cdk8s_floor.append(timed([*python_command(optimize), "-c", "import cdk8s"]))
        synth.append(timed([*python_command(optimize), "app.py", "--outdir", out]))
        for count in STACK_COUNTS:
            per_count[count].append(run_stacks(count, optimize)["seconds"])
            if count in without_metrics:
                seconds = run_stacks(count, optimize, metrics=False)["seconds"]
                without_metrics[count].append(seconds)
        if helm_path is not None:
            chart = ROOT / "dist" / "helm" / "journal-k8s"
            argv: list[str | Path] = [
                helm_path,
                "template",
                "journal",
                chart,
                "-f",
                chart / "values-prod.yaml",
            ]
            helm.append(timed(argv))
            for count in STACK_COUNTS:
                start = time.perf_counter()
                for _ in range(count):
                    timed(argv)
                helm_per_count[count].append(time.perf_counter() - start)
    samples = [Sample("jsii floor (import cdk8s_plus_27)", tuple(floor))]
    samples.append(Sample("cold synth, all environments", tuple(synth)))
    samples.append(Sample("what synth loads (import cdk8s)", tuple(cdk8s_floor)))
    samples += [Sample(f"{n} stacks, cold process", tuple(per_count[n])) for n in STACK_COUNTS]
    samples += [
        Sample(f"{n} stacks without metrics, cold process", tuple(without_metrics[n]))
        for n in METRICS_COUNTS
    ]
    if helm:
        samples.append(Sample("helm template, one environment", tuple(helm)))
        samples += [Sample(f"{n} x helm template", tuple(helm_per_count[n])) for n in STACK_COUNTS]
    rss = run_stacks(RSS_STACKS, optimize)
    result = subprocess.run(
        [*python_command(optimize), "-m", "journal_tools.bench", "--child-watch", "10"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    warm = json.loads(result.stdout.splitlines()[-1])["seconds"]
    samples.append(Sample("warm re-synth after a values edit", tuple(warm)))
    return samples, rss


def marginal(samples: Sequence[Sample], prefix: str) -> float | None:
    """Seconds per additional stack: slope between the smallest and largest stack counts."""
    by_name = {s.name: s.median for s in samples}
    low, high = STACK_COUNTS[0], STACK_COUNTS[-1]
    first, last = by_name.get(f"{low} {prefix}"), by_name.get(f"{high} {prefix}")
    if first is None or last is None:
        return None
    return (last - first) / (high - low)


def report(samples: Sequence[Sample], rss: dict[str, float], runs: int, out: Path) -> None:
    """Print the table, write the CSV and the plot."""
    out.mkdir(parents=True, exist_ok=True)
    print(f"{'measurement':42} {'median':>9} {'min':>9} {'max':>9}   ({runs} runs)")
    for sample in samples:
        print(
            f"{sample.name:42} {sample.median:9.3f} {min(sample.seconds):9.3f} "
            f"{max(sample.seconds):9.3f}"
        )
    floor, synth, loads = (s.median for s in samples[:3])
    per_stack = marginal(samples, "stacks, cold process")
    per_helm = marginal(samples, "x helm template")
    print(f"\nsynth / floor: {synth / floor:.2f}x  (target <= 1.15x)")
    # The library no longer loads cdk8s-plus-27: this is the part of the floor synth still pays.
    print(f"synth / import cdk8s: {synth / loads:.2f}x")
    if per_stack is not None:
        print(f"per additional stack: {per_stack * 1000:.1f} ms  (target <= 5 ms)")
    per_plain = marginal(samples, "stacks without metrics, cold process")
    if per_stack is not None and per_plain:
        print(
            f"per additional stack without metrics: {per_plain * 1000:.1f} ms; with metrics "
            f"{per_stack / per_plain:.2f}x  (target <= 1.2x)"
        )
    if per_helm is not None:
        print(f"per additional helm template: {per_helm * 1000:.1f} ms")
    warm = next(s for s in samples if s.name.startswith("warm re-synth"))
    print(f"warm re-synth after a values edit: {warm.median * 1000:.0f} ms  (target <= 40 ms)")
    print(
        f"peak RSS at {RSS_STACKS} stacks: python {rss['python_rss_mib']:.0f} MiB, "
        f"node {rss['node_rss_mib']:.0f} MiB  (target <= 150 MiB)"
    )
    with (out / "bench.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["measurement", "median_s", "min_s", "max_s", "runs"])
        for sample in samples:
            writer.writerow(
                [
                    sample.name,
                    f"{sample.median:.4f}",
                    f"{min(sample.seconds):.4f}",
                    f"{max(sample.seconds):.4f}",
                    len(sample.seconds),
                ]
            )
        writer.writerow(["synth/floor ratio", f"{synth / floor:.3f}", "", "", runs])
        writer.writerow(["synth/import cdk8s ratio", f"{synth / loads:.3f}", "", "", runs])
        writer.writerow(
            [
                f"python peak RSS MiB at {RSS_STACKS} stacks",
                f"{rss['python_rss_mib']:.1f}",
                "",
                "",
                1,
            ]
        )
        writer.writerow(
            [f"node peak RSS MiB at {RSS_STACKS} stacks", f"{rss['node_rss_mib']:.1f}", "", "", 1]
        )
    _plot(samples, out / "bench.png")
    print(f"\nwrote {out / 'bench.csv'} and {out / 'bench.png'}")


def _plot(samples: Sequence[Sample], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    by_name = {s.name: s.median for s in samples}
    figure, axes = pyplot.subplots(figsize=(6, 4))
    for label, suffix in (
        ("cdk8s synth", "stacks, cold process"),
        ("helm template", "x helm template"),
    ):
        points = [(n, by_name[f"{n} {suffix}"]) for n in STACK_COUNTS if f"{n} {suffix}" in by_name]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=label)
    axes.set_xlabel("journal stacks (one namespace each)")
    axes.set_ylabel("seconds (median, cold process)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make bench``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument(
        "--type-checks",
        action="store_true",
        help="run Python without -O, so jsii type-checks every call (make synth runs with -O)",
    )
    parser.add_argument("--child-stacks", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-watch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-metrics", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child_stacks is not None:
        stacks_child(arguments.child_stacks, metrics=not arguments.no_metrics)
        return 0
    if arguments.child_watch is not None:
        watch_child(arguments.child_watch)
        return 0
    from journal_tools.node import use_bundled_node

    use_bundled_node()  # the floor and every child run on the same Node 24
    samples, rss = measure(arguments.runs, optimize=not arguments.type_checks)
    report(samples, rss, arguments.runs, ROOT / "dist" / "bench")
    return 0


if __name__ == "__main__":
    sys.exit(main())
