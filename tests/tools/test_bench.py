"""make bench: its measurements run and its arithmetic is right (timings live in the bench)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from journal_tools.bench import STACK_COUNTS, Sample, marginal
from support import ROOT


def run_child(*arguments: str) -> tuple[Any, str]:
    """One of the bench's measuring processes: its JSON figures and its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "journal_tools.bench", *arguments],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(result.stdout.splitlines()[-1]), result.stderr


def test_a_stack_run_reports_time_and_memory() -> None:
    figures, stderr = run_child("--child-stacks", "2")
    assert set(figures) == {"seconds", "python_rss_mib", "node_rss_mib"}
    assert figures["seconds"] > 0
    assert figures["python_rss_mib"] > 10
    assert figures["node_rss_mib"] > 10
    assert "end-of-life" not in stderr


def test_marginal_cost_is_the_slope_between_the_smallest_and_largest_counts() -> None:
    low, high = STACK_COUNTS[0], STACK_COUNTS[-1]
    samples = [
        Sample(f"{low} stacks, cold process", (1.0, 1.2, 1.1)),
        Sample(f"{high} stacks, cold process", (3.0, 3.4, 3.2)),
    ]
    assert marginal(samples, "stacks, cold process") == (3.2 - 1.1) / (high - low)
    assert marginal(samples, "x helm template") is None


def test_a_warm_resynth_run_reports_each_edit() -> None:
    figures, _ = run_child("--child-watch", "2")
    seconds = figures["seconds"]
    assert len(seconds) == 2
    assert all(s > 0 for s in seconds)


def test_a_stack_run_without_metrics_reports_time_too() -> None:
    """The side-by-side measurement of prod's per-stack cost with its metrics off."""
    figures, _ = run_child("--child-stacks", "1", "--no-metrics")
    assert figures["seconds"] > 0
