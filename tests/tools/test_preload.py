"""The values' libraries imported while the jsii kernel starts: the preload's thread and the
main thread's ``import cdk8s`` never import the same module, and every library preloaded is
one the values import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from journal_tools import preload
from support import ROOT

FIRST = "from journal_tools import preload\npreload.import_shared()\n"
"""What ``preload.start`` runs before the thread starts."""


def imported_by(code: str) -> set[str]:
    """The modules a fresh ``python -O`` imports running ``code`` after ``FIRST``."""
    script = (
        f"import json, os, sys\n{FIRST}before = set(sys.modules)\n{code}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)), flush=True)\n"
        "os._exit(0)\n"  # the jsii kernel's shutdown is not what is measured
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "constructs")}
    done = subprocess.run(
        [sys.executable, "-O", "-c", script],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        check=True,
    )
    found: list[str] = json.loads(done.stdout)
    return set(found)


@pytest.fixture(scope="module")
def preloaded() -> set[str]:
    return imported_by("preload.import_libraries()")


def test_the_preload_and_the_main_thread_import_no_module_in_common(preloaded: set[str]) -> None:
    # app.py imports cdk8s and the library while the thread runs, and joins it before
    # importing journal_tools.values: a module both imported could leave one thread with a
    # partly run module (or a deadlock) on a circular import.
    meanwhile = imported_by("import cdk8s, journal_k8s")
    assert {"pydantic.main", "yaml", "yamlcore"} <= preloaded
    assert {"cdk8s", "cdk8s_plus_27", "journal_k8s"} <= meanwhile
    assert sorted(preloaded & meanwhile) == []


def test_every_preloaded_library_is_one_the_values_import(preloaded: set[str]) -> None:
    by_values = imported_by("import journal_tools.values")
    assert set(preload.LIBRARIES) <= by_values
    assert preloaded <= by_values


def test_a_missing_library_is_left_to_the_import_that_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(preload, "LIBRARIES", ("journal_tools_not_installed", "json"))
    preload.import_libraries()  # no error: the values' own import reports it


def test_start_imports_the_libraries_on_another_thread() -> None:
    thread = preload.start()
    thread.join(timeout=60)
    assert thread.name == "preload" and thread.daemon and not thread.is_alive()
    assert all(name in sys.modules for name in (*preload.SHARED, *preload.LIBRARIES))
