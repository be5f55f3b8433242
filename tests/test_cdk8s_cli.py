"""`cdk8s synth` (the pinned cdk8s-cli on Node 24) writes the same bytes as `make synth`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from journal_tools import k8s_import
from journal_tools.node import bundled_node
from support import ROOT


@pytest.fixture(scope="module")
def cli() -> Path:
    """The pinned cdk8s-cli, installed on first use like `make cli` does."""
    k8s_import.install_cli(k8s_import.cli_dir())
    return k8s_import.cli_script(k8s_import.cli_dir())


def test_cdk8s_synth_matches_app_py_byte_for_byte(cli: Path, tmp_path: Path) -> None:
    env = k8s_import.node_environment(k8s_import.npm_shims(tmp_path / "shims"))
    via_cli = subprocess.run(
        [bundled_node(), cli, "synth", "--output", tmp_path / "cli"],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert via_cli.returncode == 0, via_cli.stderr
    assert "end-of-life" not in via_cli.stdout + via_cli.stderr
    subprocess.run(
        [sys.executable, "app.py", "--outdir", tmp_path / "make"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    written = sorted(p.relative_to(tmp_path / "make") for p in (tmp_path / "make").rglob("*.yaml"))
    assert written == sorted(
        p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*.yaml")
    )
    assert len(written) == 3
    for relative in written:
        assert (tmp_path / "cli" / relative).read_bytes() == (
            tmp_path / "make" / relative
        ).read_bytes()
