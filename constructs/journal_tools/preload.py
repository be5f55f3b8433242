"""The values' libraries imported on a second thread while the jsii kernel starts.

``import cdk8s`` starts Node and loads constructs, cdk8s and cdk8s-plus: about 0.2 s of a cold
synth in which Python only waits for Node's answers. ``start`` spends that time importing
what reading the values needs (pydantic, PyYAML), which would otherwise come after it. The
two threads never import the same module (a test holds it), so neither waits for the other.
"""

from __future__ import annotations

import importlib
import threading

LIBRARIES = (
    "pydantic.main",
    "pydantic.fields",
    "pydantic.functional_validators",
    "pydantic.alias_generators",
    "importlib.metadata",
    "yaml",
    "yamlcore",
)
"""What ``journal_tools.values`` imports beside the library (``importlib.metadata``: for
pydantic's plugins, at its first model)."""

SHARED = ("jsii", "contextvars", "fractions", "socket")
"""Imported first, on the calling thread: Node starts only once jsii is imported, and the
standard modules are ones that both the libraries and ``import cdk8s`` need."""


def start() -> threading.Thread:
    """Import ``SHARED``, then ``LIBRARIES`` on a new thread; join it before importing
    ``journal_tools.values``."""
    import_shared()
    thread = threading.Thread(target=import_libraries, name="preload", daemon=True)
    thread.start()
    return thread


def import_shared() -> None:
    """Import ``SHARED`` (what ``start`` does before the thread starts)."""
    for name in SHARED:
        importlib.import_module(name)


def import_libraries() -> None:
    """Import ``LIBRARIES``; a missing one is left to the import that needs it to report."""
    for name in LIBRARIES:
        try:
            importlib.import_module(name)
        except ImportError:
            return
