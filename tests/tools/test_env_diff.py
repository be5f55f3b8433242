"""make diff: environments compared field by field, the namespace once, plain when piped."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from journal_tools import env_diff, synth
from journal_tools.manifests import from_yaml, to_yaml
from support import ROOT


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = env_diff.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prod_to_staging_shows_the_edge_moving_to_the_gateway(
    dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "prod", "staging", "--dist", dist)
    assert code == 0
    lines = out.splitlines()
    for only_in_prod in (
        "Ingress/frontend-ingress",
        "NetworkPolicy/frontend-from-frontend-ingress",
    ):
        assert f"- {only_in_prod}  only in prod" in lines
    for only_in_staging in (
        "HTTPRoute/frontend-route",
        "NetworkPolicy/frontend-from-frontend-route",
        "NetworkPolicy/fileserver-from-frontend-route",
    ):
        assert f"+ {only_in_staging}  only in staging" in lines


def test_dev_to_prod_names_replicas_storage_tls_and_namespace(
    dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "dev", "prod", "--dist", dist)
    assert code == 0
    lines = out.splitlines()
    assert "namespace: journal-dev → journal-prod" in lines
    assert out.count("journal-prod") == 1, "the namespace is shown once, not per object"
    # prod autoscales the API and static tiers: the autoscaler holds their replicas.
    assert "Deployment/frontend  spec.replicas: 1 → (absent)" in lines
    assert "Deployment/fileserver  spec.replicas: 1 → (absent)" in lines
    assert "+ HorizontalPodAutoscaler/frontend  only in prod" in lines
    assert "+ HorizontalPodAutoscaler/fileserver  only in prod" in lines
    assert "StatefulSet/redis  spec.replicas: 1 → 3" in lines
    assert (
        "StatefulSet/redis  spec.volumeClaimTemplates[name=data].spec.resources.requests.storage:"
        " 1Gi → 50Gi"
    ) in lines
    assert (
        "Ingress/frontend-ingress  spec.tls: (absent) → "
        "[{hosts: [journal.example.com], secretName: journal-tls}]"
    ) in lines
    # TLS brings the solver policy; Redis failover the proxy and its policies (11 objects);
    # metrics (off in dev) a Service, ServiceMonitor, policy and rule per exporter (12);
    # autoscaling the two autoscalers.
    assert re.fullmatch(r"\d+ changed, 0 only in dev, 26 only in prod, \d+ identical", lines[-1])
    assert "+ NetworkPolicy/frontend-ingress-acme-solver  only in prod" in lines
    assert "+ ServiceMonitor/redis-proxy-metrics  only in prod" in lines
    assert "+ PrometheusRule/redis-alerts  only in prod" in lines
    exporter = "StatefulSet/redis  spec.template.spec.containers[name=redis-exporter]: (absent) → "
    assert any(line.startswith(exporter) for line in lines)
    assert "+ Deployment/redis-proxy  only in prod" in lines
    assert "+ NetworkPolicy/redis-sentinel  only in prod" in lines


def test_staging_to_prod_names_the_autoscalers_bounds(
    dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "staging", "prod", "--dist", dist)
    assert code == 0
    lines = out.splitlines()
    assert "HorizontalPodAutoscaler/frontend  spec.minReplicas: 2 → 4" in lines
    assert "HorizontalPodAutoscaler/frontend  spec.maxReplicas: 4 → 10" in lines
    assert "HorizontalPodAutoscaler/fileserver  spec.minReplicas: 2 → 3" in lines
    assert "HorizontalPodAutoscaler/fileserver  spec.maxReplicas: 4 → 6" in lines


def test_identical_environments_print_no_differences(
    dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "prod", "prod", "--dist", dist)
    assert code == 0
    assert re.fullmatch(r"no differences \(\d+ objects\)", out.splitlines()[-1])


def test_plain_output_has_no_ansi_codes_when_not_a_tty(
    dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not sys.stdout.isatty()
    _, out, _ = run(capsys, "dev", "prod", "--dist", dist)
    assert "\033[" not in out


def test_colour_on_a_terminal_unless_no_color(
    dist: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, out, _ = run(capsys, "dev", "prod", "--dist", dist)
    assert "\033[32m3\033[0m" in out  # the Redis pods
    monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = run(capsys, "dev", "prod", "--dist", dist)
    assert "\033[" not in out


def test_scripts_are_summarised_and_one_sided_objects_listed(
    dist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(dist / "dev", tmp_path / "dev")
    objects = from_yaml((dist / "dev" / synth.MANIFEST_FILE).read_text())
    for manifest in objects:
        if manifest["metadata"]["name"] == "redis-config":
            conf = manifest["data"]["redis.conf"]
            manifest["data"]["redis.conf"] = conf.replace("everysec", "always")
        if manifest["metadata"]["name"] == "frontend-config":
            manifest["metadata"]["name"] = "frontend-settings"
    (tmp_path / "edited").mkdir()
    (tmp_path / "edited" / synth.MANIFEST_FILE).write_text(to_yaml(objects))

    _, out, _ = run(capsys, "dev", "edited", "--dist", tmp_path)
    lines = out.splitlines()
    changed = 'ConfigMap/redis-config  data["redis.conf"]: text changed'
    assert any(line.startswith(changed) for line in lines)
    assert "    -appendfsync everysec" in lines
    assert "    +appendfsync always" in lines
    assert "- ConfigMap/frontend-config  only in dev" in lines
    assert "+ ConfigMap/frontend-settings  only in edited" in lines
    assert "namespace: journal-dev (both)" in lines


def test_fails_when_an_environment_is_missing(
    dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "dev", "qa", "--dist", dist)
    assert code == 1
    assert out == ""
    assert err == f"diff failed: TO=qa: no such environment in {dist}/: expected one of " + (
        ", ".join(sorted(f.name for f in dist.iterdir() if (f / synth.MANIFEST_FILE).exists()))
        + "\n"
    )
    assert "dev" in err


def test_fails_when_an_environment_folder_has_no_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "qa").mkdir()
    code, out, err = run(capsys, "qa", "qa", "--dist", tmp_path)
    assert code == 1
    assert out == ""
    assert f"{tmp_path / 'qa'}: no synthesized manifests (*.yaml) found" in err
    assert "make synth" in err


def test_paths_quote_keys_that_are_not_identifiers() -> None:
    path = ("metadata", "annotations", "cert-manager.io/cluster-issuer")
    assert env_diff.format_path(path) == 'metadata.annotations["cert-manager.io/cluster-issuer"]'
    assert env_diff.format_path(("spec", "ports", 0, "port")) == "spec.ports[0].port"


@pytest.mark.parametrize(
    "hostile",
    ["dev; touch {marker}", "$(shell touch {marker})", "`touch {marker}`", "$$(touch {marker})"],
)
def test_make_diff_runs_no_command_from_its_arguments(tmp_path: Path, hostile: str) -> None:
    """make diff FROM="dev; ...": the text reaches env_diff as one argument, which refuses it."""
    marker = tmp_path / "INJECTED"
    value = hostile.format(marker=marker)
    for variables in ([f"FROM={value}", "TO=prod"], ["FROM=dev", f"TO={value}"]):
        result = subprocess.run(
            ["make", "-s", "-o", "synth", "diff", *variables],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0
        assert "is not allowed: expected an environment name" in result.stderr
        assert not marker.exists()


def test_metrics_settings_that_differ_show_where_they_land(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """staging and a copy of it with a Prometheus of its own: the Prometheus namespace, pod
    labels and selector labels show on the policies, monitors and rules."""
    import app

    folder = shutil.copytree(ROOT / "environments", tmp_path / "environments")
    staging = (folder / "staging.yaml").read_text()
    (folder / "observed.yaml").write_text(
        staging.replace("namespace: journal-staging", "namespace: journal-observed").replace(
            "metrics: {enabled: true}\n",
            "metrics:\n"
            "  enabled: true\n"
            "  prometheus: {namespace: observability, podLabels: {app.kubernetes.io/name: prom}}\n"
            "  monitorLabels: {release: prom}\n",
        )
    )
    outdir = tmp_path / "dist"
    arguments = ["--environments", str(folder), "--outdir", str(outdir)]
    assert synth.main(app.build, arguments) == 0
    code, out, _ = run(capsys, "staging", "observed", "--dist", outdir)
    assert code == 0
    lines = out.splitlines()
    selector = "spec.ingress[0].from[0].namespaceSelector.matchLabels"
    assert (
        f'NetworkPolicy/redis-from-prometheus  {selector}["kubernetes.io/metadata.name"]: '
        "monitoring → observability"
    ) in lines
    assert (
        "NetworkPolicy/fileserver-from-prometheus  spec.ingress[0].from[0].podSelector"
        '.matchLabels["app.kubernetes.io/name"]: prometheus → prom'
    ) in lines
    assert (
        "ServiceMonitor/redis-metrics  metadata.labels.release: kube-prometheus-stack → prom"
        in (lines)
    )
    assert "PrometheusRule/redis-alerts  metadata.labels.release: kube-prometheus-stack → prom" in (
        lines
    )
