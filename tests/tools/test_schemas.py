"""Strict schema validation: every environment is valid for Kubernetes 1.27 … 1.37."""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest

from journal_tools import helm_chart, schemas, synth
from journal_tools.manifests import from_yaml, to_yaml
from journal_tools.values import load_environments
from support import ROOT, Manifest, find


@pytest.fixture(scope="module")
def objects(dist: Path) -> list[Manifest]:
    """Every synthesized object of every environment."""
    return [o for path in schemas.manifest_files([dist]) for o in from_yaml(path.read_text())]


@pytest.fixture(scope="module")
def dev(dist: Path) -> list[Manifest]:
    """The dev environment's objects."""
    return from_yaml((dist / "dev" / synth.MANIFEST_FILE).read_text())


def broken_resources(objects: list[Manifest]) -> Manifest:
    """The frontend Deployment with the book's typo ``resources: request:``."""
    deployment = copy.deepcopy(find(objects, "Deployment", "frontend"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"request": container["resources"]["requests"]}
    return deployment


def old_ingress(objects: list[Manifest]) -> Manifest:
    """The Ingress as the book declares it: ``extensions/v1beta1``."""
    return {**find(objects, "Ingress", "frontend-ingress"), "apiVersion": "extensions/v1beta1"}


def test_versions_are_1_27_to_1_37() -> None:
    assert tuple(f"1.{minor}" for minor in range(27, 38)) == schemas.VERSIONS


@pytest.mark.parametrize("version", schemas.VERSIONS)
def test_every_environment_is_strict_valid(objects: list[Manifest], version: str) -> None:
    namespaces = {o["metadata"].get("namespace") for o in objects}
    assert namespaces == {None, "journal-dev", "journal-staging", "journal-prod"}
    assert [error for o in objects for error in schemas.validate(o, version)] == []


@pytest.mark.parametrize("version", schemas.VERSIONS)
def test_fails_resources_request_typo(dev: list[Manifest], version: str) -> None:
    assert schemas.validate(broken_resources(dev), version) == [
        "spec.template.spec.containers[0].resources: Additional properties are not allowed "
        "('request' was unexpected)"
    ]


@pytest.mark.parametrize("version", schemas.VERSIONS)
def test_fails_extensions_v1beta1_ingress(dev: list[Manifest], version: str) -> None:
    assert schemas.validate(old_ingress(dev), version) == [
        f"apiVersion: 'extensions/v1beta1' kind 'Ingress' is not served by Kubernetes {version}: "
        "expected an API of that version (e.g. apps/v1, networking.k8s.io/v1)"
    ]


def test_fails_wrong_type(dev: list[Manifest]) -> None:
    deployment = copy.deepcopy(find(dev, "Deployment", "frontend"))
    deployment["spec"]["replicas"] = "two"
    assert schemas.validate(deployment, "1.27") == [
        "spec.replicas: 'two' is not of type 'integer', 'null'"
    ]


def test_agrees_with_kubernetes_validate(dev: list[Manifest]) -> None:
    """The cached validators give the package's own verdict (its ``validate``, strict)."""
    for obj in dev:
        assert kubernetes_validate.validate(obj, "1.37", strict=True) == "1.37"
    with pytest.raises(kubernetes_validate.ValidationError, match="'request' was unexpected"):
        kubernetes_validate.validate(broken_resources(dev), "1.27", strict=True)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(old_ingress(dev), "1.27", strict=True)


def test_command_prints_a_table_and_exits_0(dist: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert schemas.main([str(dist)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["manifests", "objects", *schemas.VERSIONS]
    # prod's TLS adds the ACME solver policy, its Redis failover the proxy's ConfigMap,
    # Deployment and budget and 8 policies; staging's HTTPRoute is validated with its CRD;
    # staging and prod autoscale the API and static tiers (2 HorizontalPodAutoscalers each)
    counts = {"dev": "26", "prod": "52", "staging": "36"}
    for row, environment in zip(lines[1:4], counts, strict=True):
        expected = [str(dist / environment / synth.MANIFEST_FILE), counts[environment]]
        assert row.split() == [*expected, *["ok"] * 11]
    assert lines[4:] == ["all valid for Kubernetes 1.27 … 1.37 (strict)"]


def test_fails_command_names_file_object_version_and_message(
    dev: list[Manifest], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dev" / "journal.k8s.yaml"
    path.parent.mkdir()
    path.write_text(to_yaml([broken_resources(dev), old_ingress(dev)]))
    assert schemas.main([str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"ERROR {path}: Deployment journal-dev/frontend: Kubernetes 1.27: "
        "spec.template.spec.containers[0].resources: Additional properties are not allowed "
        "('request' was unexpected)"
    )
    assert lines[1] == (
        f"ERROR {path}: Ingress journal-dev/frontend-ingress: Kubernetes 1.27: apiVersion: "
        "'extensions/v1beta1' kind 'Ingress' is not served by Kubernetes 1.27: expected an API "
        "of that version (e.g. apps/v1, networking.k8s.io/v1)"
    )
    assert lines[-2].split() == [str(path), "2", *["2"] * 11]
    assert lines[-1] == "22 error(s)"


def test_fails_command_without_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schemas.main([str(tmp_path)]) == 1
    assert "no manifests found" in capsys.readouterr().out


@pytest.fixture(scope="module")
def every_construct() -> list[Manifest]:
    """Each construct of the library, with the options the environments do not use."""
    import cdk8s

    from journal_k8s import (
        ApiFrontend,
        Autoscaling,
        DisruptionBudget,
        ExistingSecret,
        IngressTls,
        PathIngress,
        PathRoute,
        Quota,
        Redis,
        RestrictedNamespace,
        StaticSite,
    )

    chart = cdk8s.Chart(cdk8s.App(), "all", namespace="all", disable_resource_name_hashes=True)
    RestrictedNamespace(
        chart,
        "Namespace",
        name="all",
        quota=Quota(cpu="12", memory="12Gi", storage="10Gi", pods=12),
    )
    redis = Redis(
        chart,
        "Redis",
        name="cache",
        replicas=1,
        storage_class="fast",
        access_mode="ReadWriteOncePod",
        password=ExistingSecret(name="cache-auth", key="token"),
    )
    api = ApiFrontend(
        chart,
        "Api",
        redis=redis,
        port=9000,
        ready_path="/ready",
        autoscaling=Autoscaling(min_replicas=1, max_replicas=4, memory_utilization=80),
    )
    site = StaticSite(
        chart,
        "Static",
        service_port=8081,
        container_port=9090,
        budget=DisruptionBudget(max_unavailable="50%"),
    )
    ingress = PathIngress(
        chart,
        "Ingress",
        host="all.example.com",
        tls=IngressTls(secret_name="all-tls", cluster_issuer="letsencrypt"),
    )
    ingress.route("/api", api)
    ingress.route("/", site)
    route = PathRoute(
        chart,
        "Route",
        name="all-route",
        gateway_name="shared",
        gateway_namespace="gateways",
        section_name="https",
        hostnames=["all.example.com", "*.all.example.com"],
        data_plane_namespace="envoy",
        data_plane_labels={"gateway.envoyproxy.io/owning-gateway-name": "shared"},
    )
    route.route("/", site)
    route.route("/api", api)
    docs = cdk8s.Chart(chart.node.scope, "docs", namespace="docs")  # type: ignore[arg-type]
    route.route("/docs", StaticSite(docs, "Manual", name="manual"))  # a ReferenceGrant
    # The ReferenceGrant and the manual's NetworkPolicy live in the manual's own chart.
    return [*chart.to_json(), *docs.to_json()]


@pytest.mark.parametrize("version", schemas.VERSIONS)
def test_every_construct_is_strict_valid_with_its_options(
    every_construct: list[Manifest], version: str
) -> None:
    objects = every_construct
    assert len(objects) == 37  # 31 in the chart, 6 in docs (the manual, its grant and policy)
    assert {o["kind"] for o in objects} >= {"HTTPRoute", "ReferenceGrant"}
    assert [error for o in objects for error in schemas.validate(o, version)] == []


@pytest.fixture(scope="module")
def flipped() -> list[Manifest]:
    """Every object of every environment with ``metrics.enabled`` flipped (dev with metrics,
    staging and prod without), as ``--set metrics.enabled`` renders them in the Helm export."""
    import app

    variants = [helm_chart.switched(e) for e in load_environments(ROOT / "environments")]
    rendered = synth.render([v for v in variants if v is not None], app.build)
    return [o for text in rendered.values() for o in from_yaml(text)]


@pytest.mark.parametrize("version", schemas.VERSIONS)
def test_every_environment_with_metrics_flipped_is_strict_valid(
    flipped: list[Manifest], version: str
) -> None:
    exporters = [
        c["name"]
        for o in flipped
        if o["metadata"].get("namespace") == "journal-dev" and "template" in o.get("spec", {})
        for c in o["spec"]["template"]["spec"]["containers"]
        if c["name"].endswith("-exporter")
    ]
    assert sorted(exporters) == ["nginx-exporter", "redis-exporter"]
    assert [error for o in flipped for error in schemas.validate(o, version)] == []
    assert [p for o in flipped for p in schemas.stored_form_problems(o, version)] == []


def test_every_object_is_in_the_form_the_api_server_stores(objects: list[Manifest]) -> None:
    """Quantities as canonical strings, no empty list or map the server drops, by the schemas."""
    assert len(objects) > 80
    found = [f"{schemas._name(o)}: {p}" for o in objects for p in schemas.stored_form_problems(o)]
    assert found == []
    for obj in objects:
        for claim in obj.get("spec", {}).get("volumeClaimTemplates", []):
            assert (claim["apiVersion"], claim["kind"]) == ("v1", "PersistentVolumeClaim")
        if obj["kind"] == "ResourceQuota":
            assert all(isinstance(v, str) for v in obj["spec"]["hard"].values())
        if obj["kind"] == "Service":
            assert "externalIPs" not in obj["spec"]


def test_fails_on_what_the_api_server_would_store_otherwise(dev: list[Manifest]) -> None:
    objects = dev
    quota = copy.deepcopy(find(objects, "ResourceQuota", "journal-quota"))
    quota["spec"]["hard"] |= {"pods": 30, "requests.cpu": "0.5", "requests.memory": "1024Mi"}
    quota["metadata"]["labels"] = {}
    assert schemas.stored_form_problems(quota) == [
        "metadata.labels: an empty map, which the API server drops",
        "spec.hard.pods: 30 is stored as '30': write the quantity as the API server stores it",
        "spec.hard.requests.cpu: '0.5' is stored as '500m': write the quantity as the API "
        "server stores it",
        "spec.hard.requests.memory: '1024Mi' is stored as '1Gi': write the quantity as the API "
        "server stores it",
    ]
    service = copy.deepcopy(find(objects, "Service", "frontend"))
    service["spec"]["externalIPs"] = []
    assert schemas.stored_form_problems(service) == [
        "spec.externalIPs: an empty list, which the API server drops"
    ]
    # What the server keeps: a required empty selector, an empty struct.
    policy = find(objects, "NetworkPolicy", "default-deny")
    assert policy["spec"]["podSelector"] == {} and schemas.stored_form_problems(policy) == []
    redis = find(objects, "StatefulSet", "redis")
    assert {"medium": "Memory", "sizeLimit": "1Mi"} in [
        v.get("emptyDir") for v in redis["spec"]["template"]["spec"]["volumes"]
    ]
    struct = copy.deepcopy(redis)
    struct["spec"]["template"]["spec"]["volumes"][0]["emptyDir"] = {}
    assert schemas.stored_form_problems(struct) == []
