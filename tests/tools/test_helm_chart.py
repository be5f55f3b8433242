"""The Helm export, checked with the real helm v3.17: every values file renders its environment.

Objects are compared as parsed YAML (DeepDiff, so ``1``, ``1.0``, ``True`` and ``"1"`` differ),
sorted by (kind, namespace, name): Helm orders its output by kind, so order is not compared.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from fractions import Fraction
from importlib.metadata import version
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from cdk8s_plus_27 import k8s
from deepdiff import DeepDiff

import app
from journal_k8s import (
    CONFIG_HASH_ANNOTATION,
    Quota,
    RestrictedNamespace,
    StaticSite,
    content_hash,
    grammar,
)
from journal_tools import bounds, helm_binary, helm_chart, schemas, synth
from journal_tools.manifests import from_yaml
from journal_tools.publish import publish
from journal_tools.values import (
    Environment,
    environment_names,
    load_environments,
    quantity_keys,
)
from support import ROOT, Manifest

ENVIRONMENTS = environment_names(ROOT / "environments")


@pytest.fixture(scope="session")
def helm() -> Path:
    """The real helm, installed by the module under test; under CI a failure, never a skip."""
    try:
        return helm_binary.ensure_helm()
    except helm_binary.HelmBinaryError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"helm is required under CI: {error}")
        pytest.skip(f"helm is not available: {error}")


@pytest.fixture(scope="session")
def build() -> synth.Builder:
    return app.build


@pytest.fixture(scope="session")
def environments() -> list[Environment]:
    return load_environments(ROOT / "environments")


@pytest.fixture(scope="session")
def exported(
    tmp_path_factory: pytest.TempPathFactory,
    environments: list[Environment],
    build: synth.Builder,
) -> tuple[Path, dict[str, list[Manifest]]]:
    """The chart of the project's environments, and what synth writes to ``dist/<env>/``."""
    return export_chart(tmp_path_factory.mktemp("helm") / "journal", environments, build)


def export_chart(
    chart_dir: Path, environments: list[Environment], build: synth.Builder
) -> tuple[Path, dict[str, list[Manifest]]]:
    publish(chart_dir.parent, {chart_dir.name: helm_chart.export(environments, build)})
    rendered = synth.render(environments, build)
    return chart_dir, {name: from_yaml(text) for name, text in rendered.items()}


def run_helm(helm: Path, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *arguments], capture_output=True, text=True, check=False)


def identity(manifest: Manifest) -> tuple[str, str, str]:
    metadata = manifest["metadata"]
    return manifest["kind"], metadata.get("namespace", ""), metadata["name"]


def assert_round_trip(
    helm: Path, chart_dir: Path, environment: Environment, expected: list[Manifest]
) -> None:
    """``helm template`` with the environment's values file gives exactly ``expected``."""
    values = chart_dir / f"values-{environment.name}.yaml"
    namespace = environment.values.namespace
    result = run_helm(helm, "template", "journal", chart_dir, "-f", values, "-n", namespace)
    assert result.returncode == 0, result.stderr
    actual = sorted(from_yaml(result.stdout), key=identity)
    difference = DeepDiff(sorted(expected, key=identity), actual)
    assert not difference, difference.pretty()


def assert_lint_strict(helm: Path, chart_dir: Path, environment: Environment) -> None:
    values = chart_dir / f"values-{environment.name}.yaml"
    result = run_helm(helm, "lint", "--strict", chart_dir, "-f", values)
    assert result.returncode == 0, result.stdout + result.stderr


def by_name(environments: list[Environment], name: str) -> Environment:
    return next(e for e in environments if e.name == name)


def test_helm_binary_is_v3_17_and_installed_once(helm: Path) -> None:
    before = helm.stat().st_mtime_ns
    assert helm_binary.ensure_helm() == helm
    assert helm.stat().st_mtime_ns == before
    assert helm_binary.helm_version(helm).startswith("v3.17.")


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_template_renders_the_synthesized_objects(
    helm: Path,
    exported: tuple[Path, dict[str, list[Manifest]]],
    environments: list[Environment],
    name: str,
) -> None:
    chart_dir, expected = exported
    assert_round_trip(helm, chart_dir, by_name(environments, name), expected[name])


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_lint_strict_passes(
    helm: Path,
    exported: tuple[Path, dict[str, list[Manifest]]],
    environments: list[Environment],
    name: str,
) -> None:
    assert_lint_strict(helm, exported[0], by_name(environments, name))


def test_chart_metadata_and_values_hold_only_what_differs(
    exported: tuple[Path, dict[str, list[Manifest]]],
) -> None:
    chart_dir = exported[0]
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert (chart["name"], chart["version"]) == ("journal-k8s", version("journal-k8s"))
    assert chart["appVersion"] == "v1-abcde"
    assert yaml.safe_load((chart_dir / "values.yaml").read_text()) is None
    prod = yaml.safe_load((chart_dir / "values-prod.yaml").read_text())
    assert prod["namespace"] == "journal-prod"
    # prod autoscales the API: the autoscaler's bounds are values, its Deployment has no
    # replicas, and the autoscaler is an object of the environments that have it.
    assert prod["frontend"]["autoscaling"] == {"minReplicas": 4, "maxReplicas": 10}
    assert "replicas" not in prod["frontend"]
    assert "horizontalPodAutoscalerFrontend" not in prod["objects"]
    scaler = (chart_dir / "templates" / "horizontal-pod-autoscaler-frontend.yaml").read_text()
    assert "maxReplicas: {{ .Values.frontend.autoscaling.maxReplicas | toJson }}" in scaler
    # The autoscaler follows frontend.autoscaling, not another setting true where it is.
    assert '{{- if hasKey (dig "frontend" (dict) .Values.AsMap) "autoscaling" }}' in scaler
    assert prod["redis"]["storage"] == {"size": "50Gi", "storageClass": "ssd"}
    assert "className" not in prod["ingress"]  # equal everywhere: literal in the templates
    assert "image" not in prod["frontend"]
    ingress = (chart_dir / "templates" / "ingress-frontend-ingress.yaml").read_text()
    assert "host: {{ .Values.ingress.host | toJson }}" in ingress
    assert "ingressClassName: nginx" in ingress


def test_metrics_objects_and_sidecars_follow_metrics_enabled(
    exported: tuple[Path, dict[str, list[Manifest]]],
) -> None:
    chart_dir = exported[0]
    templates = chart_dir / "templates"
    for template in (
        "service-monitor-redis-metrics.yaml",
        "prometheus-rule-fileserver-alerts.yaml",
        "network-policy-redis-from-prometheus.yaml",
        "service-fileserver-metrics.yaml",
    ):
        assert "{{- if .Values.metrics.enabled }}" in (templates / template).read_text()
    # The proxy's metrics objects: metrics on, and the proxy there (prod's failover).
    proxy = (templates / "service-monitor-redis-proxy-metrics.yaml").read_text()
    assert "{{- if and (.Values.metrics.enabled) (" in proxy
    values = {
        env: yaml.safe_load((chart_dir / f"values-{env}.yaml").read_text()) for env in ENVIRONMENTS
    }
    assert {env: v["metrics"] for env, v in values.items()} == {
        "dev": {"enabled": False},
        "staging": {"enabled": True},
        "prod": {"enabled": True},
    }
    # The NGINX container is compared field by field (its resources stay static.resources);
    # the exporter, the same in every environment, is literal text under the switch.
    deployment = (templates / "deployment-fileserver.yaml").read_text()
    cpu = '{{ include "journal-k8s.quantity" (.Values.static.resources.cpu) | toJson }}'
    assert cpu in deployment
    switched = deployment.split("{{- if .Values.metrics.enabled }}", 1)[1].split("{{- end }}")[0]
    assert "name: nginx-exporter" in switched
    for environment in values.values():
        fileserver = environment["derived"].get("deploymentFileserver", {})
        assert "containers" not in fileserver.get("spec", {}).get("template", {}).get("spec", {})
    # A derived value that differs with the switch is kept for either side.
    items = values["dev"]["derived"]["statefulSetRedis"]["spec"]["template"]["spec"]["volumes"]
    config = items["config"]["configMap"]
    assert [i["key"] for i in config["ifMetricsEnabled"]["items"]][-1] == "exporter.sh"
    assert "exporter.sh" not in [i["key"] for i in config["ifMetricsDisabled"]["items"]]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_flipping_metrics_enabled_renders_what_synth_gives_with_it_flipped(
    helm: Path,
    exported: tuple[Path, dict[str, list[Manifest]]],
    environments: list[Environment],
    build: synth.Builder,
    name: str,
) -> None:
    """``--set metrics.enabled`` on an environment's values file gives exactly what synth gives
    for that environment with metrics flipped: dev with metrics, prod and staging without."""
    chart_dir = exported[0]
    environment = by_name(environments, name)
    flipped = helm_chart.switched(environment)
    assert flipped is not None and flipped.values.metrics is not None
    enabled = flipped.values.metrics.enabled
    expected = from_yaml(synth.render([flipped], build)[flipped.name])
    values = chart_dir / f"values-{name}.yaml"
    result = run_helm(
        helm,
        *("template", "journal", chart_dir, "-f", values, "-n", environment.values.namespace),
        *("--set", f"metrics.enabled={json.dumps(enabled)}"),
    )
    assert result.returncode == 0, result.stderr
    actual = sorted(from_yaml(result.stdout), key=identity)
    difference = DeepDiff(sorted(expected, key=identity), actual)
    assert not difference, difference.pretty()
    switch = f"metrics.enabled={json.dumps(enabled)}"
    lint = run_helm(helm, "lint", "--strict", chart_dir, "-f", values, "--set", switch)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # What the switch changes, asserted on its own: the sidecars, the metrics port and
    # objects, and the config hash that rolls the pods.
    rendered = {identity(m)[::2]: m for m in actual}
    before = {identity(m)[::2]: m for m in exported[1][name]}
    containers = {
        c["name"]
        for m in actual
        if m["kind"] in ("StatefulSet", "Deployment")
        for c in m["spec"]["template"]["spec"]["containers"]
    }
    exporters = {"redis-exporter", "nginx-exporter"}
    assert exporters & containers == (exporters if enabled else set())
    assert (("ServiceMonitor", "redis-metrics") in rendered) == enabled
    assert (("NetworkPolicy", "fileserver-from-prometheus") in rendered) == enabled
    hashes = [
        m["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        for m in (rendered[("StatefulSet", "redis")], before[("StatefulSet", "redis")])
    ]
    assert hashes[0] != hashes[1]
    if ("Deployment", "redis-proxy") in rendered:
        (haproxy,) = rendered[("Deployment", "redis-proxy")]["spec"]["template"]["spec"][
            "containers"
        ]
        assert ("metrics" in {p["name"] for p in haproxy["ports"]}) == enabled


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (None, "namespace is required"),
        ({"redis": {"replicas": 0}}, "Must be greater than or equal to 1"),
        ({"replicaCount": 2}, "Additional property replicaCount is not allowed"),
    ],
    ids=["no-values-file", "out-of-bounds", "unknown-key"],
)
def test_fails_when_values_do_not_meet_the_schema(
    helm: Path,
    exported: tuple[Path, dict[str, list[Manifest]]],
    tmp_path: Path,
    extra: dict[str, Any] | None,
    message: str,
) -> None:
    chart_dir = exported[0]
    arguments: list[str | Path] = ["template", "journal", chart_dir]
    if extra is not None:
        (tmp_path / "extra.yaml").write_text(yaml.safe_dump(extra))
        arguments += ["-f", chart_dir / "values-dev.yaml", "-f", tmp_path / "extra.yaml"]
    result = run_helm(helm, *arguments)
    assert result.returncode != 0
    assert message in result.stderr


HOSTILE = {
    "cpu-word": {"frontend": {"resources": {"cpu": "lots"}}},
    "memory-negative": {"frontend": {"resources": {"memory": "-1Gi"}}},
    "memory-milli": {"redis": {"resources": {"memory": "1m"}}},
    "memory-number": {"redis": {"resources": {"memory": 512}}},
    "quota-storage-word": {"quota": {"storage": "big"}},
    "quota-pods-huge": {"quota": {"pods": 1e30}},
    "quota-pods-zero": {"quota": {"pods": 0}},
    "replicas-too-many": {"static": {"replicas": 1000}},
    "namespace-system": {"namespace": "kube-system"},
    "namespace-default": {"namespace": "default"},
    "namespace-kube-prefix": {"namespace": "kube-mine"},
    "namespace-upper": {"namespace": "Journal"},
    "host-ip": {"ingress": {"host": "10.0.0.1"}},
    "host-inner-wildcard": {"ingress": {"host": "a.*.example.com"}},
    "storage-class-bad": {"redis": {"storage": {"storageClass": "SSD!"}}},
    "journal-entries-zero": {
        "derived": {"configMapFrontendConfig": {"data": {"journalEntries": "0"}}}
    },
    "journal-entries-word": {
        "derived": {"configMapFrontendConfig": {"data": {"journalEntries": "many"}}}
    },
    "journal-entries-huge": {
        "derived": {"configMapFrontendConfig": {"data": {"journalEntries": "100001"}}}
    },
    "tls-host-ip": {
        "derived": {
            "ingressFrontendIngress": {
                "spec": {"tls": [{"hosts": ["1.2.3.4"], "secretName": "journal-tls"}]}
            }
        }
    },
    "tls-secret-bad": {
        "derived": {
            "ingressFrontendIngress": {
                "spec": {"tls": [{"hosts": ["journal.example.com"], "secretName": "Bad Name"}]}
            }
        }
    },
    "tls-extra-key": {
        "derived": {
            "ingressFrontendIngress": {
                "spec": {"tls": [{"hosts": ["a.example.com"], "secretName": "x", "extra": 1}]}
            }
        }
    },
    "issuer-bad": {
        "derived": {
            "ingressFrontendIngress": {
                "metadata": {"annotations": {"cert-manager.io/cluster-issuer": "Lets Encrypt"}}
            }
        }
    },
    "annotation-extra": {
        "derived": {
            "ingressFrontendIngress": {"metadata": {"annotations": {"evil.io/snippet": "x"}}}
        }
    },
    "object-flag-text": {"objects": {"networkPolicyFrontendIngressAcmeSolver": "yes"}},
}
"""Values that the Python model refuses, laid over values-prod.yaml: helm must refuse each."""


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_fails_on_values_the_python_model_refuses(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]], tmp_path: Path, case: str
) -> None:
    chart_dir = exported[0]
    (tmp_path / "hostile.yaml").write_text(yaml.safe_dump(HOSTILE[case]))
    values = ["-f", chart_dir / "values-prod.yaml", "-f", tmp_path / "hostile.yaml"]
    result = run_helm(helm, "template", "journal", chart_dir, *values)
    assert result.returncode != 0, f"{case}: helm rendered it"
    assert "values don't meet the specifications of the schema" in result.stderr


def test_every_derived_value_has_a_grammar(
    exported: tuple[Path, dict[str, list[Manifest]]],
) -> None:
    """No derived leaf is checked by its type alone: a grammar (DERIVED_SCHEMAS) or the values
    the environments produce."""
    schema = json.loads((exported[0] / "values.schema.json").read_text())

    def leaves(node: dict[str, Any], path: str) -> list[str]:
        if "properties" in node:
            return [p for k, v in node["properties"].items() for p in leaves(v, f"{path}.{k}")]
        if node.get("type") == "array" and "items" in node:
            return leaves(node["items"], f"{path}[]")
        return [] if {"pattern", "items", "enum"} & node.keys() else [path]

    assert leaves(schema["properties"]["derived"], "derived") == []


def test_fourth_environment_gets_its_values_file_and_round_trips(
    helm: Path, build: synth.Builder, tmp_path: Path
) -> None:
    folder = shutil.copytree(ROOT / "environments", tmp_path / "environments")
    (folder / "qa.yaml").write_text(
        "namespace: journal-qa\n"
        "frontend: {image: {tag: v2-rc1}, replicas: 3}\n"
        "ingress: {host: journal.qa.example.com}\n"
        "quota: {cpu: '8', memory: 8Gi, storage: 40Gi, pods: 15}\n"
    )
    environments = load_environments(folder)
    chart_dir, expected = export_chart(tmp_path / "journal", environments, build)
    assert sorted(p.name for p in chart_dir.glob("values-*.yaml")) == [
        f"values-{name}.yaml" for name in ("dev", "prod", "qa", "staging")
    ]
    assert yaml.safe_load((chart_dir / "Chart.yaml").read_text())["appVersion"] == "1.0"
    for environment in environments:
        assert_round_trip(helm, chart_dir, environment, expected[environment.name])


PROD_PROMETHEUS = (
    "metrics:\n"
    "  enabled: true\n"
    "  prometheus: {namespace: observability, podLabels: {app.kubernetes.io/name: prom-prod}}\n"
    "  monitorLabels: {release: prom-prod}\n"
    "  frontend: {port: 9100, path: /stats}\n"
)
"""prod's Prometheus, apart from the other environments', and its API scraped (appended to
prod.yaml)."""


def test_prometheus_settings_that_differ_are_values_keys_and_round_trip(
    helm: Path, build: synth.Builder, tmp_path: Path
) -> None:
    folder = shutil.copytree(ROOT / "environments", tmp_path / "environments")
    prod = folder / "prod.yaml"
    prod.write_text(prod.read_text().replace("metrics: {enabled: true}\n", "") + PROD_PROMETHEUS)
    environments = load_environments(folder)
    chart_dir, expected = export_chart(tmp_path / "journal", environments, build)
    values = yaml.safe_load((chart_dir / "values-prod.yaml").read_text())
    assert values["metrics"] == {
        "enabled": True,
        "prometheus": {
            "namespace": "observability",
            "podLabels": {"app.kubernetes.io/name": "prom-prod"},
        },
        "monitorLabels": {"release": "prom-prod"},
    }
    assert ("ServiceMonitor", "journal-prod", "frontend-metrics") in map(identity, expected["prod"])
    templates = chart_dir / "templates"
    policy = (templates / "network-policy-redis-from-prometheus.yaml").read_text()
    assert "{{ .Values.metrics.prometheus.namespace | toJson }}" in policy
    assert 'index .Values.metrics.prometheus.podLabels "app.kubernetes.io/name"' in policy
    monitor = (templates / "service-monitor-redis-metrics.yaml").read_text()
    assert "release: {{ .Values.metrics.monitorLabels.release | toJson }}" in monitor
    for environment in environments:
        assert_round_trip(helm, chart_dir, environment, expected[environment.name])
    # dev with metrics, through Helm, takes dev's Prometheus (the base layer's).
    dev = by_name(environments, "dev")
    flipped = helm_chart.switched(dev)
    assert flipped is not None
    result = run_helm(
        helm,
        *("template", "journal", chart_dir, "-f", chart_dir / "values-dev.yaml"),
        *("-n", "journal-dev", "--set", "metrics.enabled=true"),
    )
    assert result.returncode == 0, result.stderr
    difference = DeepDiff(
        sorted(from_yaml(synth.render([flipped], build)[flipped.name]), key=identity),
        sorted(from_yaml(result.stdout), key=identity),
    )
    assert not difference, difference.pretty()
    assert "namespace: observability" not in result.stdout


def test_quantities_render_as_the_api_server_stores_them_whatever_the_values_wrote(
    helm: Path, build: synth.Builder, tmp_path: Path
) -> None:
    folder = shutil.copytree(ROOT / "environments", tmp_path / "environments")
    (folder / "qa.yaml").write_text(
        "namespace: journal-qa\n"
        "frontend: {resources: {cpu: '0.5', memory: 1024Mi}}\n"
        "ingress: {host: journal.qa.example.com}\n"
        "quota: {cpu: 8000m, memory: 8Gi, storage: 0.5Ti, pods: 15}\n"
    )
    environments = load_environments(folder)
    chart_dir, expected = export_chart(tmp_path / "journal", environments, build)
    qa = by_name(environments, "qa")
    assert_round_trip(helm, chart_dir, qa, expected["qa"])
    deployment = next(o for o in expected["qa"] if o["metadata"]["name"] == "frontend"
                      and o["kind"] == "Deployment")  # fmt: skip
    requests = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    assert requests == {"cpu": "500m", "memory": "1Gi"}
    quota = next(o for o in expected["qa"] if o["kind"] == "ResourceQuota")["spec"]["hard"]
    assert (quota["requests.cpu"], quota["requests.storage"], quota["pods"]) == ("8", "512Gi", "15")
    values = yaml.safe_load((chart_dir / "values-qa.yaml").read_text())
    assert values["frontend"]["resources"] == {"cpu": "500m", "memory": "1Gi"}
    assert [p for o in expected["qa"] for p in schemas.stored_form_problems(o)] == []


LITERALS = {
    "helm.tpl": 'name: {{ .Values.x }}\n{{- if .Release }}{{ include "x" . }}{{ end }}\n',
    "braces": "a{{{b}}}c {{/* not a comment */}}",
    "trailing-newlines": "kept\n\n",
    "looks-like-numbers": "1e3",
    "y": "n",
}


def literal_build(app: cdk8s.App, environment: Environment) -> cdk8s.Chart:
    """Go template syntax as content, literal and per environment; one prod-only object."""
    chart = cdk8s.Chart(app, environment.name, namespace=environment.values.namespace)
    k8s.KubeConfigMap(
        chart,
        "Templates",
        metadata=k8s.ObjectMeta(name="templates"),
        data=LITERALS | {"per-environment": f"{{{{ .Values.{environment.name} }}}}"},
    )
    if environment.name == "prod":
        k8s.KubeConfigMap(
            chart, "ProdOnly", metadata=k8s.ObjectMeta(name="prod-only"), data={"a": "{{ x }}"}
        )
    return chart


def test_literal_template_syntax_in_content_survives(
    helm: Path, environments: list[Environment], tmp_path: Path
) -> None:
    chart_dir, expected = export_chart(tmp_path / "literal", environments, literal_build)
    template = (chart_dir / "templates" / "config-map-templates.yaml").read_text()
    assert '{{ "{{" }} .Values.x }}' in template
    for environment in environments:
        assert_round_trip(helm, chart_dir, environment, expected[environment.name])
        assert_lint_strict(helm, chart_dir, environment)
    values = yaml.safe_load((chart_dir / "values-dev.yaml").read_text())
    assert values["objects"] == {"configMapProdOnly": False}


def test_an_autoscaler_bound_changed_through_helm_values_reaches_the_autoscaler(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]]
) -> None:
    chart_dir = exported[0]
    values = ["-f", chart_dir / "values-prod.yaml", "-n", "journal-prod"]
    setting = "frontend.autoscaling.maxReplicas=12"
    result = run_helm(helm, "template", "journal", chart_dir, *values, "--set", setting)
    assert result.returncode == 0, result.stderr
    objects = from_yaml(result.stdout)
    (scaler,) = [
        o
        for o in objects
        if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == "frontend"
    ]
    assert (scaler["spec"]["minReplicas"], scaler["spec"]["maxReplicas"]) == (4, 12)
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "frontend"
    ]
    assert "replicas" not in deployment["spec"]


def test_a_config_map_changed_through_helm_values_rolls_its_pods(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]]
) -> None:
    chart_dir = exported[0]
    key = "derived.configMapFrontendConfig.data.journalEntries"
    values = ["-f", chart_dir / "values-dev.yaml", "-n", "journal-dev"]
    result = run_helm(helm, "template", "journal", chart_dir, *values, "--set-string", f"{key}=77")
    assert result.returncode == 0, result.stderr
    objects = from_yaml(result.stdout)
    (config,) = [o for o in objects if o["metadata"]["name"] == "frontend-config"]
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "frontend"
    ]
    assert config["data"] == {"journalEntries": "77"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations[CONFIG_HASH_ANNOTATION] == content_hash({"journalEntries": "77"})
    template = (chart_dir / "templates" / "deployment-frontend.yaml").read_text()
    # The hash is computed by Helm, not a stored value.
    assert "derived.deploymentFrontend.spec.template" not in template


def site_build(app: cdk8s.App, environment: Environment) -> cdk8s.Chart:
    """A static site whose two-file NGINX configuration differs in every environment."""
    namespace = environment.values.namespace
    chart = cdk8s.Chart(
        app, environment.name, namespace=namespace, disable_resource_name_hashes=True
    )
    quota = Quota(cpu="4", memory="4G", storage="1Gi", pods=4)
    RestrictedNamespace(chart, "Namespace", name=namespace, quota=quota)
    StaticSite(chart, "Static", document_root=f"/srv/{environment.name}")
    return chart


def test_helm_computes_the_hash_of_a_multi_file_config_map(
    helm: Path, environments: list[Environment], tmp_path: Path
) -> None:
    chart_dir, expected = export_chart(tmp_path / "site", environments, site_build)
    template = (chart_dir / "templates" / "deployment-fileserver.yaml").read_text()
    assert "sha256sum" in template and "config-map-fileserver-nginx.yaml" in template
    for environment in environments:
        assert_round_trip(helm, chart_dir, environment, expected[environment.name])


# Quantity bounds: JSON Schema cannot compare quantities, so templates/quantities.yaml does
# (bounds.Bounds, exactly). The schema's pattern has refused what is no quantity before.

KINDS = {"cpu": bounds.CPU, "memory": bounds.MEMORY, "storage": bounds.STORAGE}
EXPONENTS = {
    "cpu": ["e0", "e3", "E+03", "e-3", "e-003", "e12", "e-12", "E7", "e999", "e-999"],
    "memory": ["e0", "e3", "E+03", "e6", "e010", "e15", "E9", "e999"],
}
EXPONENTS["storage"] = EXPONENTS["memory"]
SUFFIXES = {
    "cpu": ["", "m", *"kMGTPE", *bounds.BINARY_SUFFIXES[1:], *EXPONENTS["cpu"]],
    "memory": ["", *"kMGTPE", *bounds.BINARY_SUFFIXES[1:], *EXPONENTS["memory"]],
}
SUFFIXES["storage"] = SUFFIXES["memory"]


def decimal_text(value: Fraction) -> str:
    """A terminating decimal, written plainly (no exponent): ``0.001``, ``4096``."""
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
    digits = str(value * 10**places).rjust(places + 1, "0")
    whole, fraction = digits[: len(digits) - places], digits[len(digits) - places :]
    return f"{whole}.{fraction}" if fraction else whole


def spellings(text: str) -> list[str]:
    """Ways to write one number: leading zeros, trailing zeros, no leading ``0``."""
    found = [text, f"00{text}", f"{text}000" if "." in text else f"{text}.000"]
    if "." not in text:
        found.append(f"{text}.")
    if text.startswith("0."):
        found.append(text[1:])
    return found


def multiplier(suffix: str) -> Fraction:
    if suffix[:1] in ("e", "E") and suffix[1:] not in ("", "i"):
        return Fraction(10) ** int(suffix[1:])
    return grammar.quantity_value(f"1{suffix}")


def boundary_samples(kind: str) -> list[str]:
    """Each bound in every suffix, exactly and a little either side, in several spellings."""
    bounds = KINDS[kind]
    samples = []
    for suffix in SUFFIXES[kind]:
        for bound in (bounds.low, bounds.high):
            number = bound / multiplier(suffix)
            places = len(decimal_text(number).partition(".")[2])
            steps = [Fraction(1, 10 ** (places + k)) for k in (1, 20)] + [number / 1000]
            if number >= 2:
                steps.append(Fraction(1))
            for value in [number, *(number + s for s in steps), *(number - s for s in steps)]:
                if value > 0:
                    samples += [f"{t}{suffix}" for t in spellings(decimal_text(value))]
    return samples


def random_samples(kind: str, count: int, seed: int) -> list[str]:
    """Quantities of random digits, decimal point and suffix (many near the bounds' sizes)."""
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        whole = "".join(rng.choices("0123456789", k=rng.randint(0, 8)))
        fraction = "".join(rng.choices("0123456789", k=rng.randint(0, 8)))
        number = f"{whole}.{fraction}" if fraction or rng.random() < 0.2 else whole
        if number in ("", "."):
            number = "0"
        samples.append(number + rng.choice(SUFFIXES[kind]))
    return samples


def python_verdict(text: str, bounds: bounds.Bounds) -> str:
    """What the Python values say: ``""`` (allowed), ``below`` or ``above`` its bounds."""
    value = grammar.quantity_value(text)
    return "below" if value < bounds.low else "above" if value > bounds.high else ""


def quantity_samples() -> list[tuple[str, str]]:
    """``(kind, text)`` of every sample: boundaries in every suffix and spelling, and random."""
    samples = []
    for index, kind in enumerate(KINDS):
        pattern = grammar.QUANTITY if kind == "cpu" else grammar.WHOLE_QUANTITY
        texts = boundary_samples(kind) + random_samples(kind, 3000, seed=index)
        samples += [(kind, t) for t in dict.fromkeys(texts) if re.match(pattern, t)]
    return samples


def helper_chart(folder: Path, exported: Path, body: str) -> Path:
    """A chart of the exported quantity helpers and one ConfigMap whose data is ``body``."""
    (folder / "templates").mkdir(parents=True)
    (folder / "Chart.yaml").write_text(f"apiVersion: v2\nname: {folder.name}\nversion: 0.1.0\n")
    shutil.copy(exported / "templates" / helm_chart.QUANTITY_HELPERS, folder / "templates")
    (folder / "templates" / "data.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {folder.name}}}\ndata:\n{body}"
    )
    return folder


def test_chart_and_python_agree_on_every_quantity_bound(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]], tmp_path: Path
) -> None:
    """The chart's own _quantities.tpl, given many quantities in one render: its verdict is
    check_quantity's, for every sample (boundaries in every suffix and spelling, and random)."""
    samples = [{"kind": kind, "value": t} for kind, t in quantity_samples()]
    tables = " ".join(f'"{kind}" ({helm_chart.bounds_dict(b)})' for kind, b in KINDS.items())
    chart = helper_chart(
        tmp_path / "verdicts",
        exported[0],
        f"{{{{- $bounds := dict {tables} }}}}\n"
        "{{- range $index, $sample := .Values.samples }}\n"
        '  "{{ $index }}": {{ include "journal-k8s.quantityOutOfRange" '
        "(list $sample.value (index $bounds $sample.kind)) | quote }}\n"
        "{{- end }}\n",
    )
    (tmp_path / "samples.json").write_text(json.dumps({"samples": samples}))
    result = run_helm(helm, "template", "verdicts", chart, "-f", tmp_path / "samples.json")
    assert result.returncode == 0, result.stderr
    (config,) = from_yaml(result.stdout)
    verdicts = [config["data"][str(index)] for index in range(len(samples))]
    expected = [python_verdict(s["value"], KINDS[s["kind"]]) for s in samples]
    disagreements = [
        (s, chart_says, python_says)
        for s, chart_says, python_says in zip(samples, verdicts, expected, strict=True)
        if chart_says != python_says
    ]
    assert disagreements == []
    counts = {verdict: expected.count(verdict) for verdict in ("", "below", "above")}
    print(f"{len(samples)} samples: {counts}")
    assert len(samples) > 10_000 and min(counts.values()) > 1_000, counts


QUANTITY_KEYS = {
    # The Redis container is compared field by field even where sidecars differ (named items).
    "cpu": ["frontend.resources.cpu", "static.resources.cpu", "redis.resources.cpu", "quota.cpu"],
    "memory": [
        "frontend.resources.memory",
        "static.resources.memory",
        "redis.resources.memory",
        "quota.memory",
    ],
    "storage": ["redis.storage.size", "quota.storage"],
}
OUT_OF_BOUNDS = {
    "cpu": [
        "0",
        "0.9m",
        "0.000999",
        "999e-6",
        ".0009",
        "4096.0000001",
        "4097",
        "5000",
        "4.0961k",
        "4096001m",
        "4.001Ki",
        "4.0961E+3",
    ],
    "memory": [
        "1Ki",
        "1048575",
        "1023Ki",
        "0.9999Mi",
        "1.048575e6",
        "64.001Ti",
        "100Ti",
        "70368744177665",
        "65536.001Gi",
        "0.0625001Pi",
        "7.04e13",
    ],
    "storage": [
        "1Ki",
        "1048575",
        "1023.999Ki",
        "0.000976Gi",
        "1.001Pi",
        "1025Ti",
        "1125899906842625",
        "2P",
        "1.2e15",
    ],
}
AT_THE_BOUNDS = {
    "cpu": [
        "1m",
        "0.001",
        "1e-3",
        ".001",
        "4096",
        "4.096k",
        "4Ki",
        "4096000m",
        "4096.000",
        "4.096E+03",
    ],
    "memory": [
        "1Mi",
        "1048576",
        "1024Ki",
        "1.048576e6",
        "64Ti",
        "70368744177664",
        "65536Gi",
        "0.0625Pi",
    ],
    "storage": ["1Mi", "1048576.0", "1Pi", "1024Ti", "1125899906842624", "1.125899906842624e15"],
}


def test_every_quantity_key_of_the_schema_is_checked(
    exported: tuple[Path, dict[str, list[Manifest]]],
) -> None:
    schema = json.loads((exported[0] / "values.schema.json").read_text())
    in_schema = set()
    for key in quantity_keys():
        node = schema
        for part in key:
            node = node.get("properties", {}).get(part, {})
        if node:
            in_schema.add(".".join(key))
    assert in_schema == {key for keys in QUANTITY_KEYS.values() for key in keys}
    checks = (exported[0] / "templates" / helm_chart.QUANTITY_CHECKS).read_text()
    for kind, names in QUANTITY_KEYS.items():
        for name in names:
            assert f'"{name}" . "{KINDS[kind].text}" $bounds{kind.capitalize()}' in checks


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (key, value)
        for kind, keys in QUANTITY_KEYS.items()
        for key in keys
        for value in OUT_OF_BOUNDS[kind]
    ],
)
def test_template_refuses_quantities_out_of_bounds(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]], key: str, value: str
) -> None:
    kind = next(kind for kind, keys in QUANTITY_KEYS.items() if key in keys)
    with pytest.raises(ValueError, match="out of range"):
        bounds.check_quantity(value, KINDS[kind], whole=kind != "cpu")
    chart_dir = exported[0]
    values: list[str | Path] = [
        "-f",
        chart_dir / "values-prod.yaml",
        "--set-string",
        f"{key}={value}",
    ]
    result = run_helm(helm, "template", "journal", chart_dir, *values)
    assert result.returncode != 0, f"{key}={value}: helm rendered it"
    message = f"{key}: '{value}' is not allowed: out of range: allowed {KINDS[kind].text}"
    assert message in result.stderr


@pytest.mark.parametrize("kind", sorted(AT_THE_BOUNDS))
def test_template_accepts_quantities_at_the_bounds(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]], kind: str
) -> None:
    chart_dir = exported[0]
    # redis.resources.memory is coupled (an alert is computed from it): computed-with.yaml
    # refuses a change of it, whatever its bounds.
    free = [key for key in QUANTITY_KEYS[kind] if key != "redis.resources.memory"]
    for value in AT_THE_BOUNDS[kind]:
        bounds.check_quantity(value, KINDS[kind], whole=kind != "cpu")
        settings = ",".join(f"{key}={value}" for key in free)
        values: list[str | Path] = ["-f", chart_dir / "values-prod.yaml", "--set-string", settings]
        result = run_helm(helm, "template", "journal", chart_dir, *values)
        assert result.returncode == 0, f"{settings}: {result.stderr}"


def test_a_quantity_key_of_some_environments_only_is_checked_where_it_is_set(
    helm: Path, build: synth.Builder, tmp_path: Path
) -> None:
    """Two environments with failover give its proxy different resources; the others have
    no such key."""
    folder = shutil.copytree(ROOT / "environments", tmp_path / "environments")
    prod = folder / "prod.yaml"
    prod.write_text(
        prod.read_text().replace(
            "    minReplicasToWrite: 1\n",
            "    minReplicasToWrite: 1\n    proxyResources: {cpu: 200m, memory: 96Mi}\n",
        )
    )
    (folder / "qa.yaml").write_text(
        "namespace: journal-qa\n"
        "redis: {failover: {proxyResources: {cpu: 300m, memory: 128Mi}}}\n"
        "ingress: {host: journal.qa.example.com}\n"
        "quota: {cpu: '8', memory: 8Gi, storage: 40Gi, pods: 15}\n"
    )
    environments = load_environments(folder)
    chart_dir, expected = export_chart(tmp_path / "journal", environments, build)
    checks = (chart_dir / "templates" / helm_chart.QUANTITY_CHECKS).read_text()
    assert '"redis.failover.proxyResources.memory"' in checks
    for environment in environments:  # dev and staging have no such key: nothing to check
        assert_round_trip(helm, chart_dir, environment, expected[environment.name])
        assert_lint_strict(helm, chart_dir, environment)
    key = "redis.failover.proxyResources.memory"
    values: list[str | Path] = ["-f", chart_dir / "values-qa.yaml", "--set-string", f"{key}=1Ki"]
    result = run_helm(helm, "template", "journal", chart_dir, *values)
    assert result.returncode != 0
    assert f"{key}: '1Ki' is not allowed: out of range: allowed from 1Mi to 64Ti" in result.stderr


def template_refuses(text: str) -> bool:
    """The one limit of the chart's quantity helper (int64 arithmetic, no big numbers): a
    binary quantity of more than 18 digits or decimals, or too large at its precision."""
    binary = "|".join(bounds.BINARY_SUFFIXES[1:])
    match = re.fullmatch(rf"([0-9]*)\.?([0-9]*)({binary})", text)
    if match is None:
        return False
    exponent = 10 * (bounds.BINARY_SUFFIXES.index(match[3]))
    fraction = match[2].rstrip("0")
    digits = (match[1] + fraction).lstrip("0") or "0"
    if len(digits) > 18 or len(fraction) > 18:
        return True
    return int(digits) * 2 ** (exponent - min(len(fraction), exponent)) > 2**63 - 1


def test_chart_writes_every_quantity_as_the_api_server_stores_it(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]], tmp_path: Path
) -> None:
    """The chart's journal-k8s.quantity, given every in-bounds sample of the bounds test (and
    Kubernetes' own table inputs): exactly grammar.canonical_quantity, for a user's values too."""
    samples = ["0.5", "1024Mi", "1.5Gi", "2000m", "1e3", "1.500k", "007", "1.1Gi", "0.1Ti"]
    samples += [
        t
        for kind, t in quantity_samples()
        if not python_verdict(t, KINDS[kind]) and grammar.quantity_value(t)
    ]
    samples = list(dict.fromkeys(samples))
    refused = [t for t in samples if template_refuses(t)]
    significant = [len(re.sub(r"[^0-9]", "", t).strip("0")) for t in refused]
    assert min(significant, default=99) >= 7, refused  # long spellings of the bounds only
    samples = [t for t in samples if t not in refused]
    chart = helper_chart(
        tmp_path / "canonical",
        exported[0],
        "{{- range $index, $sample := .Values.samples }}\n"
        '  "{{ $index }}": {{ include "journal-k8s.quantity" $sample | toJson }}\n'
        "{{- end }}\n",
    )
    (tmp_path / "samples.json").write_text(json.dumps({"samples": samples}))
    result = run_helm(helm, "template", "canonical", chart, "-f", tmp_path / "samples.json")
    assert result.returncode == 0, result.stderr
    (config,) = from_yaml(result.stdout)
    written = {t: config["data"][str(index)] for index, t in enumerate(samples)}
    assert {t: w for t, w in written.items() if w != grammar.canonical_quantity(t)} == {}
    print(
        f"{len(samples)} quantities written as the API server stores them; {len(refused)} refused"
    )
    if refused:
        (tmp_path / "refused.json").write_text(json.dumps({"samples": refused[:1]}))
        result = run_helm(helm, "template", "canonical", chart, "-f", tmp_path / "refused.json")
        assert result.returncode == 1 and "write it with fewer digits" in result.stderr


def test_a_users_own_values_render_as_the_api_server_stores_them(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]], tmp_path: Path
) -> None:
    chart_dir, _ = exported
    overrides = tmp_path / "mine.yaml"
    overrides.write_text("frontend:\n  resources: {cpu: '0.5', memory: 1024Mi}\n")
    values = chart_dir / "values-dev.yaml"
    result = run_helm(
        helm, "template", "journal", chart_dir, "-f", values, "-f", overrides, "-n", "journal-dev"
    )
    assert result.returncode == 0, result.stderr
    rendered = from_yaml(result.stdout)
    deployment = next(
        o for o in rendered if o["kind"] == "Deployment" and o["metadata"]["name"] == "frontend"
    )
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert [p for o in rendered for p in schemas.stored_form_problems(o)] == []


# Settings that other fields are computed from (helm_chart.coupled): --set may not change them.


def template_prod(helm: Path, chart_dir: Path, *settings: str) -> subprocess.CompletedProcess[str]:
    values = ["-f", chart_dir / "values-prod.yaml", "-n", "journal-prod"]
    return run_helm(helm, "template", "journal", chart_dir, *values, *settings)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "namespace=team-x",
            "namespace: 'team-x' is not allowed: this chart's values-prod.yaml was exported "
            "with 'journal-prod', and other fields (ConfigMap redis-proxy-config, ",
        ),
        (
            "redis.replicas=5",
            "redis.replicas: '5' is not allowed: this chart's values-prod.yaml was exported "
            "with '3', and other fields (",
        ),
        (
            "ingress.host=foo.example.com",
            "ingress.host: 'foo.example.com' is not allowed: this chart's values-prod.yaml was "
            "exported with 'journal.example.com', and other fields (Ingress frontend-ingress)",
        ),
        (
            "redis.resources.memory=4Gi",
            "redis.resources.memory: '4Gi' is not allowed: this chart's values-prod.yaml was "
            "exported with '2Gi', and other fields (PrometheusRule redis-alerts)",
        ),
        ("redis.replicas=1", "redis.replicas: '1' is not allowed"),
    ],
    ids=["namespace", "redis-replicas", "ingress-host", "redis-memory", "replicas-synth-refuses"],
)
def test_a_setting_other_fields_are_computed_from_cannot_change_through_helm(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]], setting: str, message: str
) -> None:
    result = template_prod(helm, exported[0], "--set", setting)
    assert result.returncode != 0, f"{setting}: helm rendered it"
    assert message in result.stderr
    assert "change environments/ and run 'make helm' again" in result.stderr


def test_coupled_settings_are_recorded_with_the_values_they_had(
    exported: tuple[Path, dict[str, list[Manifest]]],
) -> None:
    chart_dir = exported[0]
    computed = {
        env: yaml.safe_load((chart_dir / f"values-{env}.yaml").read_text())["derived"]
        for env in ENVIRONMENTS
    }
    assert computed["prod"]["computedWith"] == {
        "namespace": "journal-prod",
        "redisReplicas": 3,
        "redisResourcesMemory": "2Gi",
        "ingressHost": "journal.example.com",
    }
    assert computed["prod"]["valuesFile"] == "values-prod.yaml"
    # dev has no TLS: its host feeds the Ingress rule only, and stays free.
    assert computed["dev"]["computedWith"] == {
        "namespace": "journal-dev",
        "redisReplicas": 1,
        "redisResourcesMemory": "256Mi",
    }
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    derived = schema["properties"]["derived"]["properties"]
    assert derived["computedWith"]["additionalProperties"] is False
    assert derived["computedWith"]["properties"]["redisReplicas"]["enum"] == [1, 3]


def test_the_value_a_setting_was_exported_with_still_renders(
    helm: Path, exported: tuple[Path, dict[str, list[Manifest]]]
) -> None:
    """Setting a coupled key to its own value (a quantity in another spelling too) is no change."""
    settings = "namespace=journal-prod,redis.replicas=3,redis.resources.memory=2048Mi"
    result = template_prod(helm, exported[0], "--set", settings)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("setting", "kind", "name", "field", "expected"),
    [
        ("quota.cpu=30", "ResourceQuota", "journal-quota", ("spec", "hard", "requests.cpu"), "30"),
        ("redis.resources.cpu=2", "StatefulSet", "redis", None, "2"),
        (
            "static.autoscaling.maxReplicas=8",
            "HorizontalPodAutoscaler",
            "fileserver",
            ("spec", "maxReplicas"),
            8,
        ),
    ],
    ids=["quota-cpu", "redis-cpu", "static-max-replicas"],
)
def test_a_setting_that_only_feeds_fields_by_value_stays_free(
    helm: Path,
    exported: tuple[Path, dict[str, list[Manifest]]],
    setting: str,
    kind: str,
    name: str,
    field: tuple[str, ...] | None,
    expected: Any,
) -> None:
    chart_dir = exported[0]
    computed = yaml.safe_load((chart_dir / "values-prod.yaml").read_text())["derived"]
    words = re.findall(r"[a-zA-Z]+", setting.split("=")[0])
    camel = words[0] + "".join(w[0].upper() + w[1:] for w in words[1:])
    assert camel not in computed["computedWith"]
    option = "--set" if isinstance(expected, int) else "--set-string"
    result = template_prod(helm, chart_dir, option, setting)
    assert result.returncode == 0, result.stderr
    (rendered,) = [
        o for o in from_yaml(result.stdout) if (o["kind"], o["metadata"]["name"]) == (kind, name)
    ]
    if field is None:  # the redis container's CPU request
        value = rendered["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
        assert value["cpu"] == expected
        return
    value = rendered
    for part in field:
        value = value[part]
    assert value == expected
