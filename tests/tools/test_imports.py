"""``make imports`` (offline): ``imports/k8s`` is the 1.27 API of ``cdk8s_plus_27.k8s``, and the
library's Gateway API and Prometheus Operator classes (``journal_k8s._gateway``,
``journal_k8s._monitoring``) are what ``cdk8s import`` makes of the committed CRDs."""

from __future__ import annotations

import enum
import inspect
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cdk8s
import cdk8s_plus_27.k8s as plus27
import pytest
import yaml

from journal_tools import k8s_import
from support import ROOT

try:
    import imports.k8s as imported
except ModuleNotFoundError as error:  # a fresh checkout without the generated package
    raise RuntimeError("imports/k8s is missing: run 'make imports'") from error

Module = types.ModuleType
Props = Callable[[Module], dict[str, Any]]


def namespace_props(k8s: Module) -> dict[str, Any]:
    return {
        "metadata": k8s.ObjectMeta(
            name="journal-prod",
            labels={"app.kubernetes.io/part-of": "journal"},
            annotations={"owner": "platform"},
        ),
        "spec": k8s.NamespaceSpec(finalizers=["kubernetes"]),
    }


def resource_quota_props(k8s: Module) -> dict[str, Any]:
    return {
        "metadata": k8s.ObjectMeta(name="journal"),
        "spec": k8s.ResourceQuotaSpec(
            hard={
                "requests.cpu": k8s.Quantity.from_string("4"),
                "limits.memory": k8s.Quantity.from_string("8Gi"),
                "pods": k8s.Quantity.from_number(20),
            },
            scope_selector=k8s.ScopeSelector(
                match_expressions=[
                    k8s.ScopedResourceSelectorRequirement(
                        operator="In", scope_name="PriorityClass", values=["high"]
                    )
                ]
            ),
            scopes=["NotTerminating"],
        ),
    }


def limit_range_props(k8s: Module) -> dict[str, Any]:
    return {
        "metadata": k8s.ObjectMeta(name="journal"),
        "spec": k8s.LimitRangeSpec(
            limits=[
                k8s.LimitRangeItem(
                    type="Container",
                    default={"cpu": k8s.Quantity.from_string("500m")},
                    default_request={"memory": k8s.Quantity.from_string("256Mi")},
                    max={"cpu": k8s.Quantity.from_number(2)},
                    min={"cpu": k8s.Quantity.from_string("10m")},
                    max_limit_request_ratio={"cpu": k8s.Quantity.from_number(4)},
                )
            ]
        ),
    }


def network_policy_props(k8s: Module) -> dict[str, Any]:
    redis = k8s.LabelSelector(match_labels={"app.kubernetes.io/name": "redis"})
    return {
        "metadata": k8s.ObjectMeta(name="redis"),
        "spec": k8s.NetworkPolicySpec(
            pod_selector=redis,
            policy_types=["Ingress", "Egress"],
            ingress=[
                k8s.NetworkPolicyIngressRule(
                    from_=[
                        k8s.NetworkPolicyPeer(
                            pod_selector=k8s.LabelSelector(
                                match_expressions=[
                                    k8s.LabelSelectorRequirement(
                                        key="tier", operator="In", values=["api"]
                                    )
                                ]
                            ),
                            namespace_selector=k8s.LabelSelector(match_labels={"env": "prod"}),
                        ),
                        k8s.NetworkPolicyPeer(
                            ip_block=k8s.IpBlock(cidr="10.0.0.0/8", except_=["10.1.0.0/16"])
                        ),
                    ],
                    ports=[
                        k8s.NetworkPolicyPort(
                            port=k8s.IntOrString.from_number(6379), protocol="TCP"
                        ),
                        k8s.NetworkPolicyPort(
                            port=k8s.IntOrString.from_string("redis"), end_port=6390
                        ),
                    ],
                )
            ],
            egress=[k8s.NetworkPolicyEgressRule(to=[k8s.NetworkPolicyPeer(pod_selector=redis)])],
        ),
    }


SAMPLES: dict[str, Props] = {
    "KubeNamespace": namespace_props,
    "KubeResourceQuota": resource_quota_props,
    "KubeLimitRange": limit_range_props,
    "KubeNetworkPolicy": network_policy_props,
}


def synth_one(k8s: Module, kind: str, props: Props) -> list[dict[str, Any]]:
    """The manifests of a chart holding one ``kind`` object built from ``k8s``'s classes."""
    chart = cdk8s.Chart(cdk8s.App(), "test", namespace="test", disable_resource_name_hashes=True)
    getattr(k8s, kind)(chart, "object", **props(k8s))
    return list(cdk8s.Testing.synth(chart))


@pytest.mark.parametrize(("kind", "props"), SAMPLES.items(), ids=list(SAMPLES))
def test_same_manifest(kind: str, props: Props) -> None:
    ours = synth_one(imported, kind, props)
    assert ours == synth_one(plus27, kind, props)
    assert len(ours) == 1
    assert ours[0]["kind"] == kind.removeprefix("Kube")


def render(hint: Any) -> str:
    """A type hint as text, classes by bare name (the two modules name their types alike)."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is None:
        return getattr(hint, "__name__", repr(hint))
    name = getattr(origin, "__name__", repr(origin))
    return f"{name}[{', '.join(render(a) for a in args)}]"


def referenced(hint: Any, module: Module) -> set[type]:
    """The classes of ``module`` that ``hint`` mentions."""
    found = {hint} if isinstance(hint, type) and hint.__module__ == module.__name__ else set()
    for arg in typing.get_args(hint):
        found |= referenced(arg, module)
    return found


def api_shape(module: Module, kind: str) -> dict[str, Any]:
    """The props of ``kind`` and of every type they reach: names, types, defaults, enum values."""
    shape: dict[str, Any] = {}
    todo: list[type] = [getattr(module, f"{kind}Props")]
    while todo:
        cls = todo.pop()
        if cls.__name__ in shape:
            continue
        if issubclass(cls, enum.Enum):
            shape[cls.__name__] = {m.name: m.value for m in cls}
            continue
        mapping = getattr(cls, "__jsii_name_mapping__", None)
        if mapping is None:  # IntOrString, Quantity: built by factories only
            shape[cls.__name__] = sorted(n for n in vars(cls) if n.startswith("from_"))
            continue
        hints = typing.get_type_hints(cls.__init__)
        params = inspect.signature(cls.__init__).parameters
        shape[cls.__name__] = {
            name: (mapping[name], render(hints[name]), param.default is inspect.Parameter.empty)
            for name, param in params.items()
            if name != "self"
        }
        for hint in hints.values():
            todo.extend(referenced(hint, module))
    return shape


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_same_props(kind: str) -> None:
    ours = api_shape(imported, kind)
    assert ours == api_shape(plus27, kind)
    assert "ObjectMeta" in ours


def test_same_classes() -> None:
    def public(module: Module) -> set[str]:
        return {n for n, v in vars(module).items() if isinstance(v, type) and n[0] != "_"}

    assert public(imported) == public(plus27)


def test_converted_schema_has_the_cdk8s_layout() -> None:
    source = json.loads(k8s_import.source_schema().read_text(encoding="utf-8"))
    converted = k8s_import.convert_schema(source)
    text = json.dumps(converted)

    assert list(converted) == ["definitions"]
    assert converted["definitions"].keys() == source["$defs"].keys()
    assert "#/$defs/" not in text
    assert '"null"' not in text
    namespace = converted["definitions"]["io.k8s.api.core.v1.Namespace"]["properties"]
    assert namespace["apiVersion"]["type"] == "string"
    assert "enum" not in namespace["apiVersion"]
    assert namespace["kind"]["enum"] == ["Namespace"]
    assert namespace["metadata"]["$ref"] == (
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    )
    assert converted["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "oneOf": [{"type": "string"}, {"type": "integer"}]
    }


def test_missing_cli_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(k8s_import.K8sImportError, match="make cli"):
        k8s_import.cli_script(tmp_path)


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but byte code, by relative path."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_committed_gateway_classes_are_what_the_import_produces(tmp_path: Path) -> None:
    prefix = k8s_import.cli_dir()
    k8s_import.install_cli(prefix)
    generated = k8s_import.generate_crds(
        ROOT / k8s_import.GATEWAY_CRDS,
        tmp_path / "_gateway",
        prefix=prefix,
        versions=k8s_import.GATEWAY_VERSIONS,
    )
    committed = files(ROOT / k8s_import.GATEWAY_PACKAGE)
    assert sorted(committed) == [
        "__init__.py",
        "_jsii/__init__.py",
        "_jsii/iok8snetworkinggateway@0.0.0.jsii.tgz",
        "py.typed",
    ]
    assert files(generated) == committed, "run `make imports`"


def test_committed_monitoring_classes_are_what_the_import_produces(tmp_path: Path) -> None:
    prefix = k8s_import.cli_dir()
    k8s_import.install_cli(prefix)
    generated = k8s_import.generate_crds(
        ROOT / k8s_import.MONITORING_CRDS, tmp_path / "_monitoring", prefix=prefix
    )
    committed = files(ROOT / k8s_import.MONITORING_PACKAGE)
    assert sorted(committed) == [
        "__init__.py",
        "_jsii/__init__.py",
        "_jsii/comcoreosmonitoring@0.0.0.jsii.tgz",
        "py.typed",
    ]
    assert files(generated) == committed, "run `make imports`"


def test_the_monitoring_crds_are_those_of_the_prometheus_operator_release() -> None:
    folder = ROOT / k8s_import.MONITORING_CRDS
    crds = sorted(p.name for p in folder.glob("*.yaml"))
    assert crds == [
        "monitoring.coreos.com_prometheusrules.yaml",
        "monitoring.coreos.com_servicemonitors.yaml",
    ]
    for name in crds:
        text = (folder / name).read_text()
        assert f"operator.prometheus.io/version: {k8s_import.PROMETHEUS_OPERATOR_VERSION}" in text


def test_the_crds_are_the_gateway_api_standard_channel() -> None:
    crds = sorted(p.name for p in (ROOT / k8s_import.GATEWAY_CRDS).glob("*.yaml"))
    assert crds == [
        "gateway.networking.k8s.io_httproutes.yaml",
        "gateway.networking.k8s.io_referencegrants.yaml",
    ]
    for name in crds:
        text = (ROOT / k8s_import.GATEWAY_CRDS / name).read_text()
        assert (
            f"gateway.networking.k8s.io/bundle-version: v{k8s_import.GATEWAY_API_VERSION}" in text
        )
        assert "gateway.networking.k8s.io/channel: standard" in text


def test_fails_on_a_folder_without_crds(tmp_path: Path) -> None:
    with pytest.raises(k8s_import.K8sImportError, match="no CRD files"):
        k8s_import.generate_crds(tmp_path, tmp_path / "out", prefix=k8s_import.cli_dir())


def test_fails_on_a_crd_without_the_versions_imported(tmp_path: Path) -> None:
    crd = {"kind": "CustomResourceDefinition", "spec": {"versions": [{"name": "v1beta1"}]}}
    (tmp_path / "routes.yaml").write_text(json.dumps(crd))
    with pytest.raises(
        k8s_import.K8sImportError, match=r"routes\.yaml: defines none of the versions v1"
    ):
        k8s_import.generate_crds(
            tmp_path, tmp_path / "out", prefix=k8s_import.cli_dir(), versions=("v1",)
        )


def test_the_gateway_classes_are_those_of_the_versions_the_library_emits() -> None:
    from journal_k8s import _gateway
    from journal_k8s.path_route import GATEWAY_GROUP, HTTP_ROUTE, REFERENCE_GRANT

    emitted = {HTTP_ROUTE[0], REFERENCE_GRANT[0]}
    assert {f"{GATEWAY_GROUP}/{v}" for v in k8s_import.GATEWAY_VERSIONS} == emitted
    assert not [name for name in dir(_gateway) if "V1Beta1" in name]


def test_the_monitoring_classes_are_those_of_the_kinds_the_library_emits() -> None:
    from journal_k8s import _monitoring
    from journal_k8s.service_monitor import PROMETHEUS_RULE, SERVICE_MONITOR

    folder = ROOT / k8s_import.MONITORING_CRDS
    kinds = {yaml.safe_load(p.read_text())["spec"]["names"]["kind"] for p in folder.glob("*.yaml")}
    assert kinds == {SERVICE_MONITOR[1], PROMETHEUS_RULE[1]}
    assert not [name for name in dir(_monitoring) if name.startswith("PodMonitor")]
