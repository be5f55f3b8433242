"""app.py end to end: every environment synthesized, atomically, quietly, and snapshotted."""

from __future__ import annotations

import collections
import gc
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

import app
from journal_tools import synth
from journal_tools.manifests import from_yaml
from journal_tools.values import load_environments
from support import ROOT

ENVIRONMENTS = ["dev", "prod", "staging"]


def run_app(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Run app.py as `make synth` does (with -O), in a clean environment without JSII_NODE."""
    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    return subprocess.run(
        [sys.executable, "-O", str(ROOT / "app.py"), *map(str, arguments)],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the digest of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def visible(folder: Path) -> list[str]:
    """The entries of ``folder`` a user sees (the publish keeps its own under dot names)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """Each environment's manifest file, rendered in-process through app.build."""
    return synth.render(load_environments(ROOT / "environments"), app.build)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_snapshot(
    rendered: dict[str, str], environment: str, k8s_snapshot: SnapshotAssertion
) -> None:
    assert rendered[environment] == k8s_snapshot


def test_every_object_of_an_environment_is_in_its_namespace(rendered: dict[str, str]) -> None:
    for environment in ENVIRONMENTS:
        objects = from_yaml(rendered[environment])
        namespace = f"journal-{environment}"
        assert objects[0]["kind"] == "Namespace" and objects[0]["metadata"]["name"] == namespace
        assert "namespace" not in objects[0]["metadata"]
        assert {o["metadata"]["namespace"] for o in objects[1:]} == {namespace}
        assert (
            objects[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        )
        kinds = {o["kind"] for o in objects}
        assert {"ResourceQuota", "LimitRange", "NetworkPolicy"} <= kinds


def test_a_render_leaves_no_reference_cycles_for_the_paused_collector() -> None:
    """``render`` pauses the cycle collector: sound only while a render of every environment
    leaves nothing for it to collect (a YAML dumper holding its own bound method left about
    9,000 objects a prod stack)."""
    environments = load_environments(ROOT / "environments")
    synth.render(environments, app.build)  # the first render of a process imports lazily
    gc.collect()
    debug = gc.get_debug()
    gc.set_debug(debug | gc.DEBUG_SAVEALL)
    try:
        synth.render(environments, app.build)
        assert gc.isenabled()
        gc.collect()
        kinds = collections.Counter(type(o).__name__ for o in gc.garbage).most_common(5)
        assert len(gc.garbage) == 0, f"objects in reference cycles: {kinds}"
    finally:
        gc.set_debug(debug)
        gc.garbage.clear()


def test_synth_writes_every_environment_quietly(tmp_path: Path, rendered: dict[str, str]) -> None:
    result = run_app("--outdir", tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "end-of-life" not in result.stdout + result.stderr
    assert visible(tmp_path / "dist") == ENVIRONMENTS
    for environment in ENVIRONMENTS:
        # Under -O (no jsii type checks) the files are those of a type-checked render.
        written = (tmp_path / "dist" / environment / synth.MANIFEST_FILE).read_text()
        assert written == rendered[environment]


def test_a_fourth_environment_is_one_more_file(tmp_path: Path) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", environments)
    (environments / "qa.yaml").write_text(
        "namespace: journal-qa\nfrontend: {replicas: 3}\n"
        "quota: {cpu: '12', memory: 12Gi, storage: 40Gi, pods: 20}\n"
    )
    result = run_app("--environments", environments, "--outdir", tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    objects = from_yaml((tmp_path / "dist" / "qa" / synth.MANIFEST_FILE).read_text())
    assert {o["metadata"].get("namespace", o["metadata"]["name"]) for o in objects} == {
        "journal-qa"
    }
    frontend = next(
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "frontend"
    )
    assert frontend["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("file", "edit", "message"),
    [
        ("prod.yaml", lambda t: t + "extra: 1\n", "prod.yaml:26: extra: unknown key"),
        (
            "dev.yaml",
            lambda t: t.replace("replicas: 1", "replicas: -1", 1),
            "frontend.replicas: -1 is not allowed",
        ),
        ("dev.yaml", lambda t: t.replace("replicas: 1", "replicas: x", 1), "'x' is not allowed"),
        ("dev.yaml", lambda t: "", "dev.yaml: the file is empty"),
        ("dev.yaml", lambda t: t + "  : [\n", "dev.yaml: invalid YAML"),
        (
            "dev.yaml",
            lambda t: t.replace("journal-dev", "Journal Dev"),
            "namespace: 'Journal Dev' is not allowed",
        ),
        (
            "dev.yaml",
            lambda t: t.replace("size: 1Gi", "size: 1 GiB"),
            "redis.storage.size: '1 GiB' is not allowed",
        ),
        (
            "dev.yaml",
            lambda t: t.replace(
                "  host: journal.dev.example.com\n", "  tls: {secretName: dev-tls}\n"
            ),
            "dev.yaml:15: ingress.tls: tls is not allowed without host",
        ),
        (
            "prod.yaml",
            lambda t: t.replace(
                "{minReplicas: 4, maxReplicas: 10}", "{minReplicas: 4, maxReplicas: 3}"
            ),
            "prod.yaml:8: frontend.autoscaling.maxReplicas: autoscaling max_replicas=3 is not "
            "allowed: expected at least min_replicas=4",
        ),
        (
            "prod.yaml",
            lambda t: t.replace('cpu: "20"', 'cpu: "18"'),
            "ResourceQuota journal-prod/journal-quota: spec.hard.limits.cpu: '18' cannot hold "
            "the namespace's workloads at their most, 18.9 = StatefulSet redis 3 pods (3 "
            "replicas) * 1.15 + Deployment redis-proxy 3 pods (2 replicas + surge 1) * 0.2 + "
            "Deployment frontend 11 pods (autoscaler maxReplicas 10 + surge 1) * 1 + Deployment "
            "fileserver 7 pods (autoscaler maxReplicas 6 + surge 1) * 0.55",
        ),
        (
            "_base.yaml",
            lambda t: t.replace("podLabels: {app.kubernetes.io/name: prometheus}", "podLabels: {}"),
            "_base.yaml:27: metrics.prometheus.podLabels: {} is not allowed",
        ),
        (
            "prod.yaml",
            lambda t: t.replace(
                "metrics: {enabled: true}", "metrics: {enabled: true, interval: 30 seconds}"
            ),
            "prod.yaml:25: metrics.interval: '30 seconds' is not allowed: expected a Prometheus "
            "duration",
        ),
        (
            "prod.yaml",
            lambda t: t.replace(
                "metrics: {enabled: true}", "metrics: {enabled: true, frontend: {port: 80}}"
            ),
            "prod.yaml:25: metrics.frontend.port: 80 is not allowed",
        ),
    ],
)
def test_fails_on_bad_values_and_leaves_dist_byte_identical(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    edit: Callable[[str], str],
    message: str,
) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", environments)
    dist = tmp_path / "dist"
    arguments = ["--environments", str(environments), "--outdir", str(dist)]
    assert synth.main(app.build, arguments) == 0
    (dist / "notes.txt").write_text("kept")
    before = tree_digest(dist)
    path = environments / file
    path.write_text(edit(path.read_text()))
    capsys.readouterr()
    assert synth.main(app.build, arguments) == 1
    stderr = capsys.readouterr().err
    assert message in stderr
    assert f"synth failed, {dist}/ left as it was" in stderr
    assert tree_digest(dist) == before
    assert visible(dist) == sorted([*ENVIRONMENTS, "notes.txt"])


def test_the_apis_metrics_endpoint_in_the_values_is_scraped(tmp_path: Path) -> None:
    """``metrics.frontend`` (port and path) makes the API a scraped tier, in its environment."""
    environments = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", environments)
    prod = environments / "prod.yaml"
    prod.write_text(
        prod.read_text().replace(
            "metrics: {enabled: true}",
            "metrics: {enabled: true, frontend: {port: 9100, path: /stats}}",
        )
    )
    arguments = ["--environments", str(environments), "--outdir", str(tmp_path / "dist")]
    assert synth.main(app.build, arguments) == 0
    objects = {
        (o["kind"], o["metadata"]["name"]): o
        for o in from_yaml((tmp_path / "dist" / "prod" / synth.MANIFEST_FILE).read_text())
    }
    monitor = objects["ServiceMonitor", "frontend-metrics"]["spec"]
    assert monitor["endpoints"] == [{"interval": "30s", "path": "/stats", "port": "metrics"}]
    (api,) = objects["Deployment", "frontend"]["spec"]["template"]["spec"]["containers"]
    assert {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in api["ports"]
    assert ("NetworkPolicy", "frontend-from-prometheus") in objects
    assert ("PrometheusRule", "frontend-alerts") in objects
    staging = from_yaml((tmp_path / "dist" / "staging" / synth.MANIFEST_FILE).read_text())
    assert not [o for o in staging if o["metadata"]["name"].startswith("frontend-metrics")]


def test_a_wildcard_host_reaches_the_ingress(tmp_path: Path) -> None:
    """An Ingress takes ``*.example.com``: the values and the library both accept it."""
    environments = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", environments)
    dev = environments / "dev.yaml"
    dev.write_text(
        dev.read_text().replace("host: journal.dev.example.com", "host: '*.dev.example.com'")
    )
    arguments = ["--environments", str(environments), "--outdir", str(tmp_path / "dist")]
    assert synth.main(app.build, arguments) == 0
    objects = from_yaml((tmp_path / "dist" / "dev" / "journal.k8s.yaml").read_text())
    (ingress,) = [o for o in objects if o["kind"] == "Ingress"]
    assert ingress["spec"]["rules"][0]["host"] == "*.dev.example.com"


def test_quantities_in_exponent_form_synthesize(tmp_path: Path) -> None:
    """``4e3`` is a Kubernetes quantity: values, constructs and synth checks all take it."""
    environments = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", environments)
    dev = environments / "dev.yaml"
    dev.write_text(dev.read_text().replace('{cpu: "4",', "{cpu: '4e3',"))
    arguments = ["--environments", str(environments), "--outdir", str(tmp_path / "dist")]
    assert synth.main(app.build, arguments) == 0
    assert "cpu: 4e3" in (tmp_path / "dist" / "dev" / synth.MANIFEST_FILE).read_text()


def test_fails_quietly_from_the_command_line(tmp_path: Path) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", environments)
    (environments / "dev.yaml").write_text("frontend: {replicas: many}\n")
    result = run_app("--environments", environments, "--outdir", tmp_path / "dist")
    assert result.returncode == 1
    assert "frontend.replicas: 'many' is not allowed" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dist" / "dev").exists()
