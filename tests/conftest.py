"""Shared fixtures: Node for jsii, a fresh chart per test, Kubernetes YAML snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from journal_tools.node import use_bundled_node

use_bundled_node()

import cdk8s  # noqa: E402

from journal_tools import synth  # noqa: E402
from journal_tools.manifests import to_yaml  # noqa: E402
from support import ROOT  # noqa: E402


class KubernetesYamlSnapshot(SingleFileSnapshotExtension):
    """One snapshot per test, written as a real ``.k8s.yaml`` file a reviewer reads as YAML."""

    file_extension = "k8s.yaml"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **_: Any) -> str:
        return data if isinstance(data, str) else to_yaml(data)


@pytest.fixture
def k8s_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Compare manifests (or YAML text) with ``<group>/__snapshots__/<module>/<test>.k8s.yaml``."""
    return snapshot.use_extension(KubernetesYamlSnapshot)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every environment synthesized by app.py into a temporary ``dist/``, once per module."""
    import app

    outdir = tmp_path_factory.mktemp("dist")
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(outdir)]
    assert synth.main(app.build, arguments) == 0
    return outdir


@pytest.fixture
def chart() -> cdk8s.Chart:
    """An empty chart in namespace ``test``, in an app of its own."""
    return cdk8s.Chart(cdk8s.App(), "test", namespace="test", disable_resource_name_hashes=True)
