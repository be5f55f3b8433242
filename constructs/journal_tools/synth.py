"""Synthesis of every environment into ``<outdir>/<env>/``, all or nothing.

Every user error ends as one message and exit status 1 (130 or 143 when interrupted), never a
traceback: values, construct arguments (mapped back to the values key that fed them), checks,
an output folder that is read-only, full or busy.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import cdk8s
from jsii.errors import JSIIError

from journal_k8s import chart_manifests
from journal_k8s.rules import argument_of

from . import interrupts
from .checks import problems
from .manifests import to_yaml
from .publish import PublishError, publish
from .values import (
    Environment,
    EnvironmentValues,
    ValuesError,
    add_environments_option,
    load_environments,
)
from .values_yaml import KeyPath, format_key

MANIFEST_FILE = "journal.k8s.yaml"

Builder = Callable[[cdk8s.App, Environment], cdk8s.Chart]
"""Builds one environment's chart in the app (what ``app.py`` provides)."""


MAX_MESSAGE = 300
"""Longest construct message repeated to the user."""

VALIDATION_FAILED = "Error: Validation failed with the following errors:"
"""How cdk8s starts the error of a failed validation of the app (one problem per line after)."""


class SynthError(Exception):
    """A user error found while building or checking the manifests."""


class KeyedError(ValueError):
    """A construct refused an argument that a known values key fed."""

    def __init__(self, key: KeyPath, message: str) -> None:
        super().__init__(message)
        self.key = key


@contextmanager
def values_keys(keys: Mapping[str, KeyPath]) -> Iterator[None]:
    """Map a construct's ``ValueError`` about argument ``name`` to the values key ``keys[name]``.

    The constructs name the argument first (``cpu='x' is not allowed: ...``, ``tls is not
    allowed ...``); errors about other arguments pass through unchanged.
    """
    try:
        yield
    except KeyedError:
        raise
    except ValueError as error:
        key = keys.get(argument_of(str(error)) or "")
        if key is None:
            raise
        raise KeyedError(key, str(error)) from None


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


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector paused, then restored as it was.

    A render makes no reference cycles (``tests/tools/test_app.py`` holds it), so the
    collections it triggers would find nothing, while each full one walks every object of the
    process, the jsii modules' included: 3 to 5 ms of a prod stack's 35 (``make bench``).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def render(
    environments: Sequence[Environment], build: Builder, cache: RenderCache | None = None
) -> dict[str, str]:
    """Build and check every environment; return each one's manifest file text.

    Raises:
        SynthError: a construct rejected its arguments or a validation failed.
    """
    with cycle_collector_paused():
        return _render(environments, build, cache)


def _render(
    environments: Sequence[Environment], build: Builder, cache: RenderCache | None
) -> dict[str, str]:
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
        except KeyedError as error:
            message = _cut(str(error))
            raise SynthError(
                f"{environment.where(error.key)}: {format_key(error.key)}: {message}"
            ) from None
        except RuntimeError as error:
            # A validation of the app (the library's rules over the final manifests): one
            # problem per line, each kept whole.
            message = str(error)
            if not message.startswith(VALIDATION_FAILED):
                raise SynthError(f"{where}: {_cut(message)}") from None
            found = message.splitlines()[1:]
            raise SynthError(
                "\n".join(
                    [f"{where}: {len(found)} problem(s):", *(f"  {p.strip()}" for p in found)]
                )
            ) from None
        except (ValueError, JSIIError) as error:
            raise SynthError(f"{where}: {_cut(str(error))}") from None
        # The values declare which Secrets exist in the cluster outside the synth; the
        # library's validation passed over these manifests in chart_manifests.
        external = {environment.values.redis.password_secret.name}
        found = problems(objects, external_secrets=external, validated=True)
        if found:
            failures += [f"{where}: {len(found)} problem(s):", *(f"  {p}" for p in found)]
        rendered[environment.name] = to_yaml(objects)
    if failures:
        raise SynthError("\n".join(failures))
    if cache is not None:
        for environment in environments:
            cache.put(environment, rendered[environment.name])
    return rendered


def _cut(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def publish_environments(outdir: Path, rendered: Mapping[str, str]) -> None:
    """Publish each environment's manifest file as ``outdir/<env>/``, all at once."""
    publish(outdir, {name: {MANIFEST_FILE: text} for name, text in rendered.items()})


def synthesize(
    build: Builder, environments_dir: Path, outdir: Path, cache: RenderCache | None = None
) -> dict[str, str]:
    """Load, build, check and publish every environment; return their manifest texts.

    Raises:
        ValuesError: a values file is invalid (``outdir`` is untouched).
        SynthError: the manifests are invalid (``outdir`` is untouched).
        PublishError: ``outdir`` cannot be written (it holds the previous output).
    """
    environments = load_environments(environments_dir)
    rendered = render(environments, build, cache)
    publish_environments(outdir, rendered)
    return rendered


def main(build: Builder, argv: Sequence[str] | None = None) -> int:
    """Command line of ``app.py``: synthesize, print one line per environment, exit 0 or 1."""
    parser = argparse.ArgumentParser(description="Synthesize every environment's manifests.")
    add_environments_option(parser)
    parser.add_argument(
        "--outdir",
        type=Path,
        default=Path(os.environ.get("CDK8S_OUTDIR", "dist")),
        help="output folder (default: $CDK8S_OUTDIR, else dist)",
    )
    arguments = parser.parse_args(argv)
    try:
        with interrupts.raising():
            rendered = synthesize(build, arguments.environments, arguments.outdir)
            for name in rendered:
                print(f"{arguments.outdir / name / MANIFEST_FILE}")
    except (ValuesError, SynthError, PublishError) as error:
        print(f"synth failed, {arguments.outdir}/ left as it was:\n{error}", file=sys.stderr)
        return 1
    except interrupts.Interrupted as interrupted:
        print(
            f"synth interrupted: {arguments.outdir}/ holds the previous or the new output "
            "of every environment, never a mix",
            file=sys.stderr,
        )
        return interrupted.code
    return 0
