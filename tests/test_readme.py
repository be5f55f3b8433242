"""The README's example app runs as written and writes what it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from journal_tools.manifests import from_yaml
from journal_tools.node import bundled_node
from support import ROOT


def example() -> str:
    """The Python block of the section "Using the constructs in your own cdk8s app"."""
    section = (ROOT / "README.md").read_text().split("## Using the constructs", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the section has no python block"
    return match.group(1)


def test_example_app_synthesizes_both_charts(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(example())
    env = {**os.environ, "JSII_NODE": str(bundled_node())}
    result = subprocess.run(
        [sys.executable, "main.py"], cwd=tmp_path, env=env, text=True, capture_output=True
    )
    assert result.returncode == 0, result.stderr
    journal = from_yaml((tmp_path / "dist" / "journal.k8s.yaml").read_text())
    custom = from_yaml((tmp_path / "dist" / "custom.k8s.yaml").read_text())
    assert journal[0]["kind"] == "Namespace" and journal[0]["metadata"]["name"] == "team-a"
    assert {o["metadata"].get("namespace") for o in journal[1:]} == {"team-a"}
    (stateful_set,) = [o for o in custom if o["kind"] == "StatefulSet"]
    assert stateful_set["spec"]["minReadySeconds"] == 10
    (ingress,) = [o for o in custom if o["kind"] == "Ingress"]
    assert [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]] == ["/api", "/"]
    edge = from_yaml((tmp_path / "dist" / "edge.k8s.yaml").read_text())
    assert not [o for o in edge if o["kind"] == "Ingress"]
    (route,) = [o for o in edge if o["kind"] == "HTTPRoute"]
    assert [r["matches"][0]["path"]["value"] for r in route["spec"]["rules"]] == ["/api", "/"]
