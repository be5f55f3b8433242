"""The measuring processes of ``make bench``, run in the tree they measure.

``make bench`` passes this file's text to ``python -O -c`` with the measured tree as working
directory and first on ``PYTHONPATH``, so that the same code times this tree and a baseline
revision: it needs only the standard library and what both trees have (``app.build``,
``journal_tools.values`` and ``journal_tools.synth``). Each run prints its figures as one JSON
line.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BLOCKS = 9
"""Blocks of stacks after the first, each timed as a whole (see ``stacks``)."""


def stacks(count: int, *, metrics: bool) -> dict[str, float]:
    """Build and render ``count`` prod stacks in separate namespaces, from a cold process.

    ``seconds`` is the whole process's work, imports included; ``per_stack`` the cost of each
    stack after the first, measured inside the process (so that the noise of a cold start
    does not enter it): the stacks after the first are rendered in ``BLOCKS`` blocks, and the
    figure is the median of the blocks' mean costs. A block holds a dozen stacks, so that the
    collections of Python and Node are paid in each as in one long synth, while a burst of
    noise from the machine's neighbours lands in a block or two, not in the figure.
    ``metrics=False`` turns prod's metrics off where the tree has them (a tree without them
    renders prod as it is).
    """
    start = time.perf_counter()
    from journal_tools.node import use_bundled_node

    use_bundled_node()
    import app  # the deployable app's own build function
    from journal_tools import synth, values

    (prod,) = [e for e in values.load_environments(Path("environments")) if e.name == "prod"]
    update: dict[str, Any] = {}
    given = getattr(prod.values, "metrics", None)
    if not metrics and given is not None:
        update["metrics"] = given.model_copy(update={"enabled": False})
    first, *others = [
        values.Environment(
            name=f"stack-{i}",
            values=prod.values.model_copy(update={"namespace": f"journal-{i}", **update}),
            files=prod.files,
        )
        for i in range(count)
    ]
    synth.render([first], app.build)
    means = []
    for block in blocks(others):
        begun = time.perf_counter()
        synth.render(block, app.build)
        means.append((time.perf_counter() - begun) / len(block))
    return {
        "seconds": time.perf_counter() - start,
        **({"per_stack": statistics.median(means)} if others else {}),
        "python_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "node_rss_mib": _children_peak_rss_mib(),
    }


def blocks(items: list[Any]) -> list[list[Any]]:
    """``items`` in order, in at most ``BLOCKS`` blocks of equal size (the last one shorter)."""
    size = max(1, -(-len(items) // BLOCKS))
    return [items[i : i + size] for i in range(0, len(items), size)]


def warm(edits: int) -> dict[str, float]:
    """The median of ``edits`` warm re-synths, each after a values edit, as ``make watch`` runs."""
    from journal_tools.node import use_bundled_node

    use_bundled_node()
    import app
    from journal_tools import synth

    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        environments = Path(folder) / "environments"
        shutil.copytree("environments", environments)
        cache = synth.RenderCache()
        synth.synthesize(app.build, environments, Path(folder) / "dist", cache)
        dev = environments / "dev.yaml"
        original = dev.read_text()
        for edit in range(edits):
            dev.write_text(original.replace("journalEntries: 50", f"journalEntries: {51 + edit}"))
            start = time.perf_counter()
            synth.synthesize(app.build, environments, Path(folder) / "dist", cache)
            seconds.append(time.perf_counter() - start)
    return {"seconds": statistics.median(seconds)}


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


def main(argv: list[str]) -> None:
    """``stacks COUNT [--no-metrics]`` or ``warm EDITS``."""
    match argv:
        case ["stacks", count, *rest]:
            figures = stacks(int(count), metrics="--no-metrics" not in rest)
        case ["warm", edits]:
            figures = warm(int(edits))
        case _:
            raise SystemExit(f"usage: stacks COUNT [--no-metrics] | warm EDITS, not {argv}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
