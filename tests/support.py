"""Helpers the test modules share: synthesis, lookups, required binaries."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cdk8s
import pytest
from cdk8s_plus_27 import k8s
from constructs import Construct

from journal_k8s import Quota, RestrictedNamespace

ROOT = Path(__file__).resolve().parent.parent
Manifest = dict[str, Any]


def synth(chart: cdk8s.Chart) -> list[Manifest]:
    """The chart's manifests as plain dicts."""
    return list(chart.to_json())


def failures(chart: cdk8s.Chart) -> list[str]:
    """The problem lines of the chart's failed synth (cdk8s's header line left out)."""
    with pytest.raises(RuntimeError) as failure:
        synth(chart)
    header, *lines = str(failure.value).splitlines()
    assert header == "Error: Validation failed with the following errors:"
    return [line.strip() for line in lines]


ROOMY = Quota(cpu="64", memory="128Gi", storage="500Gi", pods=100)
"""A quota that holds any journal stack a test builds."""


def restricted_namespace(chart: cdk8s.Chart, quota: Quota = ROOMY) -> None:
    """The chart's namespace ``test``, enforcing ``restricted`` under ``quota``."""
    RestrictedNamespace(chart, "Namespace", name="test", quota=quota)


def find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    """The one object of ``kind`` named ``name``."""
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name!r}, found {len(matches)}"
    return matches[0]


def require_binary(name: str) -> str:
    """The path of ``name``; a failure under CI (never a skip), a skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


class Backend(Construct):
    """The smallest backend: a Service (name and port), a container port and pod labels."""

    def __init__(self, scope: Construct, id: str, *, name: str, port: int = 80) -> None:
        super().__init__(scope, id)
        self.name = self.service_name = name
        self.service_port = port
        self.container_port = 8000 + port
        self.pod_labels: Mapping[str, str] = MappingProxyType({"app.kubernetes.io/name": name})
        k8s.KubeService(
            self,
            "Service",
            metadata=k8s.ObjectMeta(name=name),
            spec=k8s.ServiceSpec(
                ports=[
                    k8s.ServicePort(port=port, target_port=k8s.IntOrString.from_number(8000 + port))
                ],
                selector=dict(self.pod_labels),
            ),
        )
