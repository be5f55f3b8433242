"""`cdk8s synth` (the pinned cdk8s-cli on Node 24) writes the same bytes as `make synth`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from journal_tools import k8s_import
from support import ROOT


@pytest.fixture(scope="module")
def cdk8s_command() -> Path:
    """The ``cdk8s`` command that ``make cli`` installs into the venv."""
    subprocess.run(
        [sys.executable, "-m", "journal_tools.k8s_import", "--install-cli"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return Path(sys.executable).with_name("cdk8s")


def test_cdk8s_synth_matches_app_py_byte_for_byte(cdk8s_command: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("JSII_NODE", "CDK8S_CHECK_UPGRADE")}
    via_cli = subprocess.run(
        [cdk8s_command, "synth", "--output", tmp_path / "cli"],
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
    # */*.yaml: each dist/<env>/ as a user reads it
    written = sorted(p.relative_to(tmp_path / "make") for p in (tmp_path / "make").glob("*/*.yaml"))
    assert written == sorted(
        p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").glob("*/*.yaml")
    )
    assert len(written) == 3
    for relative in written:
        assert (tmp_path / "cli" / relative).read_bytes() == (
            tmp_path / "make" / relative
        ).read_bytes()


def test_the_cli_and_every_npm_package_under_it_are_locked() -> None:
    package = json.loads((k8s_import.CLI_LOCK / "package.json").read_text())
    lock = json.loads((k8s_import.CLI_LOCK / "package-lock.json").read_text())
    assert package["dependencies"] == {"cdk8s-cli": k8s_import.CLI_VERSION}
    assert lock["packages"]["node_modules/cdk8s-cli"]["version"] == k8s_import.CLI_VERSION
    packages = [p for name, p in lock["packages"].items() if name]
    # Bundled packages come inside their parent's tarball, which the parent's hash covers.
    hashed = [p for p in packages if not p.get("inBundle")]
    assert len(hashed) > 100 and all(p["integrity"].startswith("sha512-") for p in hashed)


def test_the_installed_tree_is_the_locked_tree() -> None:
    """What `make cli` installed (by `npm ci`) has exactly the locked versions."""
    prefix = k8s_import.cli_dir()
    k8s_import.install_cli(prefix)
    lock = json.loads((k8s_import.CLI_LOCK / "package-lock.json").read_text())
    for name, locked in lock["packages"].items():
        if name:
            installed = json.loads((prefix / name / "package.json").read_text())
            assert installed["version"] == locked["version"], name


def test_a_tree_from_another_lock_is_installed_again(tmp_path: Path) -> None:
    prefix = tmp_path / "cli"
    assert k8s_import.install_cli(prefix) is True
    assert k8s_import.install_cli(prefix) is False  # the stamp names this lock
    (prefix / ".installed-lock.sha256").write_text("an older lock\n")
    assert k8s_import.install_cli(prefix) is True
    assert k8s_import.cli_script(prefix).is_file()
