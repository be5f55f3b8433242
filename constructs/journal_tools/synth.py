"""Synthesis of every environment into ``<outdir>/<env>/``, all or nothing."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import cdk8s
from jsii.errors import JSIIError

from journal_k8s import chart_manifests

from .checks import problems
from .manifests import to_yaml
from .values import Environment, EnvironmentValues, ValuesError, load_environments

MANIFEST_FILE = "journal.k8s.yaml"

Builder = Callable[[cdk8s.App, Environment], cdk8s.Chart]
"""Builds one environment's chart in the app (what ``app.py`` provides)."""


class SynthError(Exception):
    """A user error found while building or checking the manifests."""


class RenderCache:
    """Each environment's last rendering with the values it came from.

    A warm process (``make watch``) keeps one, so that an edit re-builds only the
    environments whose values changed: the output is a function of the values alone.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[EnvironmentValues, str]] = {}

    def get(self, environment: Environment) -> str | None:
        """The cached text for ``environment``, if its values are unchanged."""
        entry = self._entries.get(environment.name)
        return entry[1] if entry is not None and entry[0] == environment.values else None

    def put(self, environment: Environment, text: str) -> None:
        """Remember ``text`` as the rendering of ``environment``."""
        self._entries[environment.name] = (environment.values, text)


def render(
    environments: Sequence[Environment], build: Builder, cache: RenderCache | None = None
) -> dict[str, str]:
    """Build and check every environment; return each one's manifest file text.

    Raises:
        SynthError: a construct rejected its arguments or a validation failed.
    """
    rendered = {}
    failures: list[str] = []
    for environment in environments:
        cached = cache.get(environment) if cache is not None else None
        if cached is not None:
            rendered[environment.name] = cached
            continue
        where = f"environment {environment.name!r} ({', '.join(map(str, environment.files))})"
        try:
            # One app per environment: Chart.to_json() validates its whole app every time.
            chart = build(cdk8s.App(), environment)
            objects = chart_manifests(chart)
        except (ValueError, JSIIError) as error:
            raise SynthError(f"{where}: {error}") from None
        # The values declare which Secrets exist in the cluster outside the synth.
        external = {environment.values.redis.password_secret.name}
        found = problems(objects, external_secrets=external)
        if found:
            failures += [f"{where}: {len(found)} problem(s):", *(f"  {p}" for p in found)]
        rendered[environment.name] = to_yaml(objects)
    if failures:
        raise SynthError("\n".join(failures))
    if cache is not None:
        for environment in environments:
            cache.put(environment, rendered[environment.name])
    return rendered


def swap_in(parent: Path, folders: Mapping[str, Mapping[str, str]]) -> None:
    """Replace each folder of ``parent`` named in ``folders`` by its files, all or nothing.

    Every file is written to a temporary folder first; only then are the folders swapped in.
    """
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".swap-", dir=parent))
    try:
        for name, files in folders.items():
            for relative, text in files.items():
                (staging / name / relative).parent.mkdir(parents=True, exist_ok=True)
                (staging / name / relative).write_text(text, encoding="utf-8")
        for name in folders:
            target = parent / name
            if target.exists():
                target.rename(staging / f".previous-{name}")
            (staging / name).rename(target)
    finally:
        shutil.rmtree(staging)


def publish(outdir: Path, rendered: Mapping[str, str]) -> None:
    """Swap each environment's manifest file into ``outdir/<env>/``."""
    swap_in(outdir, {name: {MANIFEST_FILE: text} for name, text in rendered.items()})


def synthesize(
    build: Builder, environments_dir: Path, outdir: Path, cache: RenderCache | None = None
) -> dict[str, str]:
    """Load, build, check and publish every environment; return their manifest texts.

    Raises:
        ValuesError: a values file is invalid (``outdir`` is untouched).
        SynthError: the manifests are invalid (``outdir`` is untouched).
    """
    environments = load_environments(environments_dir)
    rendered = render(environments, build, cache)
    publish(outdir, rendered)
    return rendered


def main(build: Builder, argv: Sequence[str] | None = None) -> int:
    """Command line of ``app.py``: synthesize, print one line per environment, exit 0 or 1."""
    parser = argparse.ArgumentParser(description="Synthesize every environment's manifests.")
    parser.add_argument(
        "--environments", type=Path, default=Path("environments"), help="values folder"
    )
    parser.add_argument(
        "--outdir",
        type=Path,
        default=Path(os.environ.get("CDK8S_OUTDIR", "dist")),
        help="output folder (default: $CDK8S_OUTDIR, else dist)",
    )
    arguments = parser.parse_args(argv)
    try:
        rendered = synthesize(build, arguments.environments, arguments.outdir)
    except (ValuesError, SynthError) as error:
        print(f"synth failed, {arguments.outdir}/ left as it was:\n{error}", file=sys.stderr)
        return 1
    for name in rendered:
        print(f"{arguments.outdir / name / MANIFEST_FILE}")
    return 0
