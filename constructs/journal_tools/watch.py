"""``make watch``: one warm process that re-synthesizes when a values file changes.

It goes through the same path as ``make synth`` (load, build, check, atomic publish) and
prints what changed in each environment. Only environments whose values changed are built
again; the others keep their last rendering, which is the same function of the same values.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

from . import env_diff, synth
from .manifests import from_yaml
from .publish import PublishError
from .synth import Builder, RenderCache
from .values import ValuesError, add_environments_option

Report = Callable[[str], None]


def resynthesize(
    build: Builder,
    environments_dir: Path,
    outdir: Path,
    cache: RenderCache,
    previous: dict[str, str],
    report: Report,
    colour: bool = False,
) -> dict[str, str]:
    """One round: synthesize, then report the time and each environment's changes."""
    start = time.perf_counter()
    try:
        rendered = synth.synthesize(build, environments_dir, outdir, cache)
    except (ValuesError, synth.SynthError, PublishError) as error:
        report(f"synth failed, {outdir}/ left as it was:\n{error}")
        return previous
    elapsed = (time.perf_counter() - start) * 1000
    report(f"re-synthesized {len(rendered)} environments in {elapsed:.0f} ms")
    removed = sorted(set(previous) - set(rendered))
    if removed:
        report(f"removed from {outdir}/: {', '.join(removed)}")
    for name, text in rendered.items():
        if name in previous and previous[name] != text:
            folder = outdir / name
            comparison = env_diff.compare(
                env_diff.keyed(from_yaml(previous[name]), folder),
                env_diff.keyed(from_yaml(text), folder),
            )
            names = (f"{name} before", "after")
            report("\n".join(env_diff.render(comparison, names, (folder, folder), colour)))
    return rendered


def watch(
    environments_dir: Path, outdir: Path, changes: Iterable[Collection[object]], report: Report
) -> None:
    """Synthesize once, then again after every non-empty batch of ``changes``."""
    import app  # the deployable app's build function

    cache = RenderCache()
    colour = env_diff.use_colour("auto")  # as make diff: on a terminal, unless NO_COLOR
    rendered = resynthesize(app.build, environments_dir, outdir, cache, {}, report, colour)
    report(f"watching {environments_dir}/ (Ctrl-C to stop)")
    for batch in changes:
        if batch:
            rendered = resynthesize(
                app.build, environments_dir, outdir, cache, rendered, report, colour
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make watch``."""
    import watchfiles

    parser = argparse.ArgumentParser(description=__doc__)
    add_environments_option(parser)
    parser.add_argument("--outdir", type=Path, default=Path("dist"))
    arguments = parser.parse_args(argv)
    if not arguments.environments.is_dir():
        print(f"watch failed: {arguments.environments}: no such folder of values files")
        return 1
    changes = watchfiles.watch(
        arguments.environments, debounce=50, step=10, rust_timeout=100, yield_on_timeout=True
    )
    try:
        # The watcher starts on its first step (back within 100 ms), so it is running before
        # the first synth: an edit made during that synth is seen, and one made before it is
        # in it.
        next(changes)
        watch(
            arguments.environments, arguments.outdir, changes, lambda line: print(line, flush=True)
        )
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    code = main()
    # jsii stops Node at exit: a Ctrl-C then ends the process at once, without a traceback.
    signal.signal(signal.SIGINT, lambda _signum, _frame: os._exit(130))
    sys.exit(code)
