"""Other teams: the wheel installs into a fresh venv and composes with a consumer's own objects."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from journal_tools.node import bundled_node
from support import ROOT

CONSUMER_APP = '''
import cdk8s
from cdk8s_plus_27 import k8s
from journal_k8s import PathRoute, Redis, StaticSite, chart_manifests

LABELS = {"app.kubernetes.io/name": "worker"}


class Worker:
    """The consumer's own workload, known to Redis by name and pod labels."""

    name = "worker"
    pod_labels = LABELS


app = cdk8s.App(outdir="out")
chart = cdk8s.Chart(app, "team", namespace="team-a", disable_resource_name_hashes=True)
cache = Redis(chart, "Cache", name="cache", replicas=1)
k8s.KubeDeployment(
    chart,
    "Worker",
    metadata=k8s.ObjectMeta(name="worker"),
    spec=k8s.DeploymentSpec(
        selector=k8s.LabelSelector(match_labels=LABELS),
        template=k8s.PodTemplateSpec(
            metadata=k8s.ObjectMeta(labels=LABELS),
            spec=k8s.PodSpec(
                containers=[
                    k8s.Container(
                        name="worker",
                        image="team/worker:1.0",
                        env=[k8s.EnvVar(name="REDIS_HOST", value=cache.write_host)],
                    )
                ]
            ),
        ),
    ),
)
cache.allow_from(Worker())
# The escape hatch: Redis's objects are ordinary ApiObjects that take JSON patches.
cdk8s.ApiObject.of(cache.node.find_child("StatefulSet")).add_json_patch(
    cdk8s.JsonPatch.add("/metadata/annotations", {"team.example.com/owner": "team-a"})
)
# The Gateway API classes ship privately inside the wheel (journal_k8s._gateway).
route = PathRoute(chart, "Route", gateway_name="shared", gateway_namespace="gateways")
route.route("/", StaticSite(chart, "Docs", name="docs"))
assert chart_manifests(chart) == chart.to_json()
app.synth()
'''


def test_wheel_installs_and_a_consumer_app_synthesizes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "wheels", ROOT],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheels").glob("journal_k8s-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "journal_k8s/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "app.py", "constructs/", "imports/"))]
    assert "journal_k8s/_gateway/__init__.py" in names
    assert "journal_k8s/_gateway/_jsii/iok8snetworkinggateway@0.0.0.jsii.tgz" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    # The consumer's own dependency: the library itself needs only cdk8s and constructs.
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-qq",
            "--disable-pip-version-check",
            wheel,
            "cdk8s-plus-27==2.9.5",
        ],
        check=True,
        capture_output=True,
    )
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "main.py").write_text(CONSUMER_APP)
    env = {**os.environ, "JSII_NODE": str(bundled_node())}
    result = subprocess.run(
        [python, "main.py"], cwd=consumer, env=env, text=True, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    output = (consumer / "out" / "team.k8s.yaml").read_text()
    assert "kind: StatefulSet" in output and "name: cache" in output
    assert "name: worker" in output and "value: cache-write" in output
    assert "name: cache-from-worker" in output
    assert "team.example.com/owner: team-a" in output
    assert "kind: HTTPRoute" in output and "name: docs-from-gateway" in output
