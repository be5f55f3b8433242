"""The Helm export, checked with the real helm v3.17: every values file renders its environment.

Objects are compared as parsed YAML (DeepDiff, so ``1``, ``1.0``, ``True`` and ``"1"`` differ),
sorted by (kind, namespace, name): Helm orders its output by kind, so order is not compared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
)
from journal_tools import helm_binary, helm_chart, synth
from journal_tools.manifests import from_yaml
from journal_tools.publish import publish
from journal_tools.values import Environment, environment_names, load_environments
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
    assert prod["frontend"]["replicas"] == 4
    assert prod["redis"]["storage"] == {"size": "50Gi", "storageClass": "ssd"}
    assert "className" not in prod["ingress"]  # equal everywhere: literal in the templates
    assert "image" not in prod["frontend"]
    ingress = (chart_dir / "templates" / "ingress-frontend-ingress.yaml").read_text()
    assert "host: {{ .Values.ingress.host | toJson }}" in ingress
    assert "ingressClassName: nginx" in ingress


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (None, "namespace is required"),
        ({"frontend": {"replicas": 0}}, "Must be greater than or equal to 1"),
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
    assert "derived.deploymentFrontend" not in template  # computed by Helm, not a stored value


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
