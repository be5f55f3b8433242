"""Gateway API objects validated as the API server does: strict CRD schema, then CEL rules."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cel
import pytest

from journal_tools import crds, helm_chart, schemas, synth
from journal_tools.manifests import from_yaml
from journal_tools.values import load_environments
from support import ROOT, Manifest, find

HTTP_ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")


@pytest.fixture(scope="module")
def route(dist: Path) -> Manifest:
    """Staging's HTTPRoute, as synthesized."""
    objects = from_yaml((dist / "staging" / synth.MANIFEST_FILE).read_text())
    return find(objects, "HTTPRoute", "frontend-route")


def every_rule(schema: Any) -> list[str]:
    """The CEL rule texts of a schema, at any depth."""
    found = []
    if isinstance(schema, dict):
        found += [r["rule"] for r in schema.get("x-kubernetes-validations") or []]
        for value in schema.values():
            found += every_rule(value)
    elif isinstance(schema, list):
        for value in schema:
            found += every_rule(value)
    return found


def test_the_crds_define_the_served_versions() -> None:
    assert sorted(crds.versions()) == [
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1", "ReferenceGrant"),
        ("gateway.networking.k8s.io/v1beta1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ]


def test_every_cel_rule_of_the_crds_compiles() -> None:
    rules = {r for v in crds.versions().values() for r in every_rule(dict(v.schema))}
    assert len(rules) > 40
    for rule in rules:
        cel.compile(rule)


@pytest.mark.parametrize("version", schemas.VERSIONS)
def test_the_synthesized_route_is_valid(route: Manifest, version: str) -> None:
    assert schemas.validate(route, version) == []


def test_defaults_are_applied_before_the_rules(route: Manifest) -> None:
    version = crds.versions()[HTTP_ROUTE]
    defaulted = crds.defaulted(route, version.schema)
    ref = defaulted["spec"]["rules"][0]["backendRefs"][0]
    assert (ref["group"], ref["kind"], ref["weight"]) == ("", "Service", 1)
    assert "group" not in route["spec"]["rules"][0]["backendRefs"][0]  # the input is kept


def test_property_names_are_escaped_as_the_api_server_does() -> None:
    assert crds.escape("namespace") == "__namespace__"
    assert crds.escape("sectionName") == "sectionName"
    assert crds.escape("a.b-c/d__e") == "a__dot__b__dash__c__slash__d__underscores__e"


def _path(route: Manifest) -> None:
    route["spec"]["rules"][0]["matches"][0]["path"]["value"] = "/api//v2"


def _port(route: Manifest) -> None:
    del route["spec"]["rules"][0]["backendRefs"][0]["port"]


def _parents(route: Manifest) -> None:
    route["spec"]["parentRefs"].append(dict(route["spec"]["parentRefs"][0]))


def _redirect(route: Manifest) -> None:
    route["spec"]["rules"][0]["filters"] = [
        {"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}
    ]


def _filter_type(route: Manifest) -> None:
    route["spec"]["rules"][0]["filters"] = [
        {"type": "URLRewrite", "requestHeaderModifier": {"set": [{"name": "x", "value": "y"}]}}
    ]


def _timeouts(route: Manifest) -> None:
    route["spec"]["rules"][0]["timeouts"] = {"request": "5s", "backendRequest": "10s"}


BROKEN: dict[str, tuple[Callable[[Manifest], None], str]] = {
    "double slash": (_path, "spec.rules[0].matches[0].path: must not contain '//'"),
    "service without port": (_port, "spec.rules[0].backendRefs[0]: Must have port for Service"),
    "same parent twice": (_parents, "spec.parentRefs: sectionName must be unique"),
    "redirect with backends": (_redirect, "spec.rules[0]: RequestRedirect filter must not be"),
    "filter of another type": (
        _filter_type,
        "spec.rules[0].filters[0]: filter.requestHeaderModifier must be nil",
    ),
    "backend timeout longer": (
        _timeouts,
        "spec.rules[0].timeouts: backendRequest timeout cannot be longer than request timeout",
    ),
}


@pytest.mark.parametrize("breaks", BROKEN.values(), ids=list(BROKEN))
def test_fails_on_a_cel_rule_violation(
    route: Manifest, breaks: tuple[Callable[[Manifest], None], str]
) -> None:
    change, message = breaks
    broken = copy.deepcopy(route)
    change(broken)
    errors = schemas.validate(broken, "1.31")
    assert any(e.startswith(message) for e in errors), errors


def test_fails_on_an_unknown_field_or_a_bad_name(route: Manifest) -> None:
    broken = copy.deepcopy(route)
    broken["spec"]["rules"][0]["matchs"] = broken["spec"]["rules"][0].pop("matches")
    broken["metadata"]["labels"] = {"tier": 3}
    errors = schemas.validate(broken, "1.31")
    assert any(e.startswith("metadata.labels.tier: 3 is not of type 'string'") for e in errors)
    assert any(
        e.startswith("spec.rules[0]: Additional properties are not allowed ('matchs'")
        for e in errors
    )


def test_fails_on_a_reference_grant_to_an_unknown_kind_field() -> None:
    grant = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "g", "namespace": "docs"},
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "a"}],
            "to": [{"group": "", "kind": "Service", "service": "x"}],
        },
    }
    errors = schemas.validate(grant, "1.27")
    assert errors == [
        "spec.to[0]: Additional properties are not allowed ('service' was unexpected)"
    ]
    del grant["spec"]["to"][0]["service"]
    assert schemas.validate(grant, "1.27") == []


def test_a_rule_that_cannot_be_evaluated_is_an_error_not_a_pass() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.missing == 1", "message": "unused"}],
        "properties": {
            "n": {"type": "integer", "x-kubernetes-validations": [{"rule": "self < 3"}]}
        },
    }
    assert list(crds.rule_errors({"n": 5}, schema)) == [
        "(object): CEL rule 'self.missing == 1' could not be evaluated: 'missing'",
        "n: failed rule: self < 3",
    ]


MONITORING_KINDS = ("ServiceMonitor", "PrometheusRule")


def monitoring_objects(dist: Path, environment: str) -> list[Manifest]:
    """The Prometheus Operator objects of one environment, as synthesized."""
    objects = from_yaml((dist / environment / synth.MANIFEST_FILE).read_text())
    return [o for o in objects if o["kind"] in MONITORING_KINDS]


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_service_monitors_and_rules_are_valid_in_every_environment(
    dist: Path, environment: str
) -> None:
    found = monitoring_objects(dist, environment)
    kinds = sorted({o["kind"] for o in found})
    # dev keeps metrics off; staging runs Redis and NGINX exporters, prod HAProxy's too.
    assert len(found) == {"dev": 0, "staging": 4, "prod": 6}[environment]
    assert kinds == ([] if environment == "dev" else sorted(MONITORING_KINDS))
    assert_valid_strict(found)


def assert_valid_strict(found: list[Manifest]) -> None:
    """Each object as the API server stores it (the CRDs' defaults add nothing) and valid
    against its CRD, strict, on the oldest and newest Kubernetes the project supports."""
    for obj in found:
        version = crds.versions()[obj["apiVersion"], obj["kind"]]
        assert crds.defaulted(obj, version.schema) == obj, obj["metadata"]["name"]
        for kubernetes in (schemas.VERSIONS[0], schemas.VERSIONS[-1]):
            assert schemas.validate(obj, kubernetes) == [], obj["metadata"]["name"]


def test_service_monitors_and_rules_are_valid_in_dev_with_metrics_on() -> None:
    """dev keeps metrics off; with them on (as ``--set metrics.enabled=true`` renders it in
    the Helm export) its objects are valid too."""
    import app

    (dev,) = [e for e in load_environments(ROOT / "environments") if e.name == "dev"]
    flipped = helm_chart.switched(dev)
    assert flipped is not None and flipped.values.metrics is not None
    assert flipped.values.metrics.enabled
    objects = from_yaml(synth.render([flipped], app.build)[flipped.name])
    found = [o for o in objects if o["kind"] in MONITORING_KINDS]
    assert sorted(o["kind"] for o in found) == sorted(MONITORING_KINDS * 2)
    assert_valid_strict(found)


@pytest.mark.parametrize(
    ("kind", "edit", "message"),
    [
        (
            "ServiceMonitor",
            lambda o: o["spec"]["endpoints"][0].update(intervall="30s"),
            "spec.endpoints[0]: Additional properties are not allowed ('intervall'",
        ),
        (
            "ServiceMonitor",
            lambda o: o["spec"]["endpoints"][0].update(interval="30 seconds"),
            "spec.endpoints[0].interval: '30 seconds' does not match",
        ),
        (
            "PrometheusRule",
            lambda o: o["spec"]["groups"][0]["rules"][0].update(severity="critical"),
            "spec.groups[0].rules[0]: Additional properties are not allowed ('severity'",
        ),
    ],
)
def test_fails_on_a_monitoring_object_the_crd_refuses(
    dist: Path, kind: str, edit: Callable[[Manifest], None], message: str
) -> None:
    broken = copy.deepcopy(next(o for o in monitoring_objects(dist, "prod") if o["kind"] == kind))
    edit(broken)
    errors = schemas.validate(broken, "1.31")
    assert any(error.startswith(message) for error in errors), errors
