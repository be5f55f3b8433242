"""Other teams: the wheel installs into a fresh venv and composes with a consumer's own objects."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from test_consumer_app import run_example

from support import ROOT

OTHER_CDK8S = "cdk8s==2.69.77"
"""A cdk8s 2.x release other than the project's pin (requirements.lock)."""


def test_the_lock_pins_another_cdk8s_than_the_wheel_test_installs() -> None:
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    assert "cdk8s==2.70.115" in lock and OTHER_CDK8S not in lock


def test_wheel_installs_beside_another_cdk8s_and_synthesizes_the_readme_example(
    tmp_path: Path,
) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "wheels", ROOT],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheels").glob("journal_k8s-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "journal_k8s/py.typed" in names
    assert "journal_k8s/_jsii/journal-k8s-bulk@0.2.0.jsii.tgz" in names
    # The Gateway API classes ship privately, never as a top-level `imports` package.
    assert "journal_k8s/_gateway/__init__.py" in names
    assert "journal_k8s/_gateway/_jsii/iok8snetworkinggateway@0.0.0.jsii.tgz" in names
    assert "journal_k8s/_monitoring/__init__.py" in names
    assert "journal_k8s/_monitoring/_jsii/comcoreosmonitoring@0.0.0.jsii.tgz" in names
    tops = {n.split("/")[0] for n in names if not n.startswith("journal_k8s-")}
    assert tops == {"journal_k8s"}, "the wheel holds the library only (no journal_tools, imports)"
    metadata = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if "==" in r], requires

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "-qq", "--disable-pip-version-check", wheel, OTHER_CDK8S],
        text=True,
        capture_output=True,
    )
    assert install.returncode == 0, install.stderr
    freeze = subprocess.run(
        [python, "-m", "pip", "freeze"], check=True, text=True, capture_output=True
    ).stdout.splitlines()
    assert OTHER_CDK8S in freeze and "cdk8s-plus-27==2.9.5" in freeze
    workdir = tmp_path / "consumer"
    workdir.mkdir()
    from_wheel = run_example(python, workdir)
    in_tree = run_example(sys.executable, tmp_path)
    assert from_wheel == in_tree
    assert {"shop", "jobs"} <= set(from_wheel)
