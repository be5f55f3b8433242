"""The library's API reference, generated from its docstrings by pdoc, into ``dist/docs/``.

Usage: ``python -m journal_tools.docs [--outdir DIR]`` (``make docs``). Any warning pdoc gives
(a module that does not import, a docstring it cannot read, …) fails the build, so the
reference always builds clean; the previous reference stays until a new one is complete, and
the new one is published under the lock of ``make synth`` (``journal_tools.publish``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from journal_tools.publish import PublishError, publish

MODULES = ("journal_k8s", "journal_k8s.grammar")
"""What the reference documents: the public API (``journal_k8s.__all__``) and the grammar."""


def build(outdir: Path) -> list[str]:
    """Publish the reference as ``outdir`` (replacing it) unless pdoc warns; its warnings.

    Raises:
        PublishError: ``outdir`` cannot be written (it holds the previous reference).
    """
    os.environ["PDOC_ALLOW_EXEC"] = "1"  # importing the library starts jsii's Node process
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="google", footer_text="journal-k8s")
    with tempfile.TemporaryDirectory(prefix="journal-docs-") as staging:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="jsii")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="typeguard")
            pdoc.pdoc(*MODULES, output_directory=Path(staging))
        problems = [f"{w.category.__name__}: {w.message}" for w in caught]
        if not problems:
            files = {
                str(path.relative_to(staging)): path.read_bytes()
                for path in sorted(Path(staging).rglob("*"))
                if path.is_file()
            }
            publish(outdir.parent, {outdir.name: files}, record=False)
        return problems


def main(arguments: Sequence[str] | None = None) -> int:
    """Build the reference; 1 (and each warning on stderr) if pdoc warned."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=Path("dist/docs"))
    outdir = parser.parse_args(arguments).outdir
    try:
        problems = build(outdir)
    except PublishError as error:
        print(f"docs failed, {outdir}/ left as it was:\n{error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"docs: {problem}", file=sys.stderr)
    if problems:
        print(f"docs failed ({len(problems)} warnings), {outdir}/ left as it was", file=sys.stderr)
        return 1
    print(f"API reference in {outdir}/ ({', '.join(MODULES)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
