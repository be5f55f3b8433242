"""Other teams: the wheel installs into a fresh venv at its dependency floors and composes."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from test_consumer_app import run_example

from journal_tools.node import bundled_node
from support import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def floors() -> list[str]:
    """``name==floor`` of each dependency of the library: the ``>=`` bound of its range."""
    pins = []
    for line in PROJECT["dependencies"]:
        requirement = Requirement(line)
        (low,) = [s.version for s in requirement.specifier if s.operator == ">="]
        pins.append(f"{requirement.name}=={low}")
    return pins


def test_every_dependency_has_a_floor_other_than_the_lock() -> None:
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    assert {p.split("==")[0] for p in floors()} == {"cdk8s", "cdk8s-plus-27", "constructs", "jsii"}
    assert not set(floors()) & set(lock), "the floors test would prove nothing"


def test_wheel_installs_at_its_floors_and_synthesizes_the_readme_example_byte_for_byte(
    tmp_path: Path,
) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "wheels", ROOT],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheels").glob("journal_k8s-*.whl")
    assert wheel.name == f"journal_k8s-{PROJECT['version']}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "journal_k8s/py.typed" in names
    assert "journal_k8s/_jsii/__init__.py" in names
    assert "journal_k8s/_jsii/_jsii/journal-k8s-bulk@0.2.0.jsii.tgz" in names
    assert not [n for n in names if "/assembly/" in n], "the assembly's sources stay out"
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
    # pip's cache (the default) makes a second run quick.
    install = subprocess.run(
        [python, "-m", "pip", "install", "-qq", "--disable-pip-version-check", wheel, *floors()],
        text=True,
        capture_output=True,
    )
    assert install.returncode == 0, install.stderr
    freeze = subprocess.run(
        [python, "-m", "pip", "freeze"], check=True, text=True, capture_output=True
    ).stdout.splitlines()
    assert set(floors()) <= set(freeze), freeze
    check = subprocess.run([python, "-m", "pip", "check"], text=True, capture_output=True)
    assert check.returncode == 0, check.stdout
    version = subprocess.run(
        [python, "-c", "import journal_k8s; print(journal_k8s.__version__)"],
        env={**os.environ, "JSII_NODE": str(bundled_node())},
        text=True,
        capture_output=True,
    )
    assert version.stdout.strip() == PROJECT["version"], version.stderr
    workdir = tmp_path / "consumer"
    workdir.mkdir()
    from_wheel = run_example(python, workdir)
    in_tree = run_example(sys.executable, tmp_path)
    assert {"shop", "jobs", "docs"} <= set(from_wheel)
    for chart in from_wheel:
        file = f"dist/{chart}.k8s.yaml"
        assert (workdir / file).read_bytes() == (tmp_path / file).read_bytes(), file
    assert from_wheel == in_tree
