"""PathRoute: an HTTPRoute on a shared Gateway, PathPrefix rules most specific first."""

from __future__ import annotations

import itertools

import cdk8s
import pytest
import yaml

from journal_k8s import ApiFrontend, PathRoute, Redis, StaticSite, _gateway
from journal_k8s._paths import elements as path_elements
from journal_k8s.path_route import (
    _ENUM_VALUES,
    GATEWAY_NAME_LABEL,
    HTTP_ROUTE,
    MAX_RULES,
    REFERENCE_GRANT,
)
from journal_tools import crds
from support import ROOT, Backend, Manifest, find, synth


def route_on(chart: cdk8s.Chart, **arguments: object) -> PathRoute:
    defaults: dict[str, object] = {"gateway_name": "shared", "gateway_namespace": "gateways"}
    return PathRoute(chart, "Route", **{**defaults, **arguments})  # type: ignore[arg-type]


def rules(objects: list[Manifest]) -> list[tuple[str, str]]:
    """Each rule's path prefix and backend Service, in manifest order."""
    route = find(objects, "HTTPRoute", "frontend-route")
    found = []
    for rule in route["spec"]["rules"]:
        ((match,), (ref,)) = rule["matches"], rule["backendRefs"]
        assert match["path"]["type"] == "PathPrefix"
        found.append((match["path"]["value"], ref["name"]))
    return found


def test_an_http_route_on_the_gateway_from_the_generated_classes(chart: cdk8s.Chart) -> None:
    route = route_on(chart, section_name="https", hostnames=["journal.example.com"])
    route.route("/", StaticSite(chart, "Static"))
    route.route("/api", ApiFrontend(chart, "Api", redis=Redis(chart, "Redis")))
    http_route = find(synth(chart), "HTTPRoute", "frontend-route")
    gvk = _gateway.HttpRoute.GVK
    assert (http_route["apiVersion"], http_route["kind"]) == HTTP_ROUTE
    assert (gvk.api_version, gvk.kind) == HTTP_ROUTE
    grant = _gateway.ReferenceGrant.GVK
    assert (grant.api_version, grant.kind) == REFERENCE_GRANT
    assert http_route["metadata"]["namespace"] == "test"
    assert http_route["spec"] == {
        "hostnames": ["journal.example.com"],
        "parentRefs": [
            {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": "shared",
                "namespace": "gateways",
                "sectionName": "https",
            }
        ],
        "rules": [
            {
                "backendRefs": [{"name": "frontend", "port": 8080}],
                "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
            },
            {
                "backendRefs": [{"name": "fileserver", "port": 80}],
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            },
        ],
    }
    assert route.paths == ("/api", "/")
    assert route.http_route.name == "frontend-route"


def test_generated_enum_members_map_to_the_crd_values() -> None:
    (version,) = [v for k, v in crds.versions().items() if k == HTTP_ROUTE]
    text = yaml.safe_dump(dict(version.schema))
    for member, value in _ENUM_VALUES.items():
        assert member.name == "PATH_PREFIX" and value == "PathPrefix"
        assert f"- {value}" in text


PATHS = ["/", "/api", "/api/v2", "/assets"]


def test_most_specific_first_for_every_call_order() -> None:
    """A longer prefix comes before every prefix that contains it, whatever the call order."""
    seen = set()
    for order in itertools.permutations(PATHS):
        chart = cdk8s.Chart(cdk8s.App(), "t", namespace="t", disable_resource_name_hashes=True)
        route = route_on(chart)
        for index, path in enumerate(order):
            route.route(path, Backend(chart, f"B{index}", name=f"b{PATHS.index(path)}"))
        found = rules(synth(chart))
        assert [p for p, _ in found] == list(route.paths)
        for earlier, later in itertools.combinations([p for p, _ in found], 2):
            # no rule is followed by one that it contains (a more specific one)
            wanted = path_elements(earlier)
            assert path_elements(later)[: len(wanted)] != wanted, (order, earlier, later)
        # each path still goes to the backend it was routed to
        assert all(backend == f"b{PATHS.index(path)}" for path, backend in found)
        seen.add(tuple(found))
    assert seen == {(("/api/v2", "b2"), ("/api", "b1"), ("/assets", "b3"), ("/", "b0"))}


@pytest.mark.parametrize("again", ["/api", "/api/"])
def test_fails_routing_the_same_path_twice(chart: cdk8s.Chart, again: str) -> None:
    route = route_on(chart)
    route.route("/api", Backend(chart, "A", name="a"))
    with pytest.raises(ValueError, match=rf"path='{again}' is routed twice in HTTPRoute"):
        route.route(again, Backend(chart, "B", name="b"))
    assert route.paths == ("/api",)


@pytest.mark.parametrize(
    "path", ["api", "", "/a//b", "/a/../b", "/a/./b", "/a/..", "/a%2Fb", "/a%2f", "/a#b", "/a b"]
)
def test_fails_on_a_path_the_crd_refuses(chart: cdk8s.Chart, path: str) -> None:
    route = route_on(chart)
    with pytest.raises(ValueError, match=rf"path={path!r} is not allowed: expected an absolute"):
        route.route(path, Backend(chart, "A", name="a"))


def test_fails_beyond_the_crd_rule_limit(chart: cdk8s.Chart) -> None:
    route = route_on(chart)
    backend = Backend(chart, "A", name="a")
    for index in range(MAX_RULES):
        route.route(f"/p{index}", backend)
    with pytest.raises(ValueError, match="already has 16 rules, the most the Gateway API allows"):
        route.route("/one-more", backend)


def test_fails_without_routes(chart: cdk8s.Chart) -> None:
    route_on(chart)
    with pytest.raises(RuntimeError) as failure:
        synth(chart)
    assert str(failure.value).splitlines()[1:] == [
        "  [test/Route/Resource] HTTPRoute test/frontend-route: spec.rules: [] is not allowed: "
        "expected at least one rule (call route(path, backend))"
    ]


def test_rules_render_once_and_keep_a_users_patch(chart: cdk8s.Chart) -> None:
    """Rules are private state rendered at synth: a user's patch between two routes stays."""
    route = route_on(chart)
    route.route("/", Backend(chart, "A", name="a"))
    route.http_route.add_json_patch(
        cdk8s.JsonPatch.add("/spec/rules/0/timeouts", {"request": "10s"})
    )
    route.route("/api", Backend(chart, "B", name="b"))
    found = find(synth(chart), "HTTPRoute", "frontend-route")
    assert [r["matches"][0]["path"]["value"] for r in found["spec"]["rules"]] == ["/api", "/"]
    assert found["spec"]["rules"][0]["timeouts"] == {"request": "10s"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"gateway_name": "Shared"}, "gateway_name='Shared' is not allowed"),
        ({"gateway_namespace": "a.b"}, "gateway_namespace='a.b' is not allowed"),
        ({"section_name": "HTTPS"}, "section_name='HTTPS' is not allowed"),
        ({"hostnames": "journal.example.com"}, "hostnames='journal.example.com' is not allowed"),
        ({"hostnames": ["10.0.0.1:80"]}, "hostnames entry='10.0.0.1:80' is not allowed"),
        ({"data_plane_labels": {}}, r"data_plane_labels=\{\} is not allowed"),
        ({"data_plane_labels": {"gw": "a b"}}, r"data_plane_labels: gw='a b' is not allowed"),
        ({"data_plane_namespace": "Edge"}, "data_plane_namespace='Edge' is not allowed"),
    ],
)
def test_fails_on_bad_arguments_naming_them(
    chart: cdk8s.Chart, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        route_on(chart, **arguments)


def test_fails_on_a_backend_that_is_not_a_construct(chart: cdk8s.Chart) -> None:
    route = route_on(chart)
    with pytest.raises(TypeError, match="is not a backend: it lacks service_name, service_port"):
        route.route("/", object())


def test_the_data_plane_reaches_each_backend_on_its_container_port_only(
    chart: cdk8s.Chart,
) -> None:
    route = route_on(chart, data_plane_namespace="envoy", data_plane_labels={"gw": "shared"})
    a, b = Backend(chart, "A", name="a", port=80), Backend(chart, "B", name="b", port=81)
    route.route("/", a)
    route.route("/b", b)
    route.route("/a-again", a)  # one policy per backend, however many paths
    objects = synth(chart)
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert sorted(p["metadata"]["name"] for p in policies) == [
        "a-from-frontend-route",
        "b-from-frontend-route",
    ]
    for backend in (a, b):
        spec = find(objects, "NetworkPolicy", f"{backend.name}-from-frontend-route")["spec"]
        assert spec == {
            "podSelector": {"matchLabels": dict(backend.pod_labels)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    # one peer: pods with these labels AND in that namespace
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "envoy"}
                            },
                            "podSelector": {"matchLabels": {"gw": "shared"}},
                        }
                    ],
                    "ports": [{"port": backend.container_port, "protocol": "TCP"}],
                }
            ],
        }


def test_two_gateways_reach_one_backend_each_through_its_own_policy() -> None:
    """A public and an internal Gateway routing to one site (and two same-named routes in two
    namespaces reaching a site in a third): each route lets its own data plane in."""
    app = cdk8s.App()
    docs = cdk8s.Chart(app, "docs", namespace="docs", disable_resource_name_hashes=True)
    site = Backend(docs, "Site", name="site")
    public = PathRoute(
        docs, "Public", name="public", gateway_name="public-gw", gateway_namespace="gateways"
    )
    internal = PathRoute(
        docs, "Internal", name="internal", gateway_name="internal-gw", gateway_namespace="gateways"
    )
    public.route("/", site)
    internal.route("/", site)
    for namespace in ("a", "b"):
        other = cdk8s.Chart(app, namespace, namespace=namespace, disable_resource_name_hashes=True)
        hosts = [f"{namespace}.example.com"]  # one route per listener, host and path
        route_on(other, name="frontend-route", hostnames=hosts).route("/docs", site)
    objects = synth(docs)
    labels = {
        p["metadata"]["name"]: p["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
        for p in objects
        if p["kind"] == "NetworkPolicy"
    }
    assert labels == {
        "site-from-public": {GATEWAY_NAME_LABEL: "public-gw"},
        "site-from-internal": {GATEWAY_NAME_LABEL: "internal-gw"},
        "site-from-a-frontend-route": {GATEWAY_NAME_LABEL: "shared"},
        "site-from-b-frontend-route": {GATEWAY_NAME_LABEL: "shared"},
    }
    grants = sorted(o["metadata"]["name"] for o in objects if o["kind"] == "ReferenceGrant")
    assert grants == ["a-frontend-route-to-site", "b-frontend-route-to-site"]


def test_the_data_plane_defaults_to_the_gateway_namespace_and_name_label(
    chart: cdk8s.Chart,
) -> None:
    route_on(chart).route("/", Backend(chart, "A", name="a"))
    peer = find(synth(chart), "NetworkPolicy", "a-from-frontend-route")["spec"]["ingress"][0][
        "from"
    ][0]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "gateways"}
    assert peer["podSelector"]["matchLabels"] == {GATEWAY_NAME_LABEL: "shared"}


def test_no_reference_grant_within_a_namespace_even_across_charts() -> None:
    app = cdk8s.App()
    edge = cdk8s.Chart(app, "edge", namespace="shop", disable_resource_name_hashes=True)
    other = cdk8s.Chart(app, "other", namespace="shop", disable_resource_name_hashes=True)
    route = route_on(edge)
    route.route("/", Backend(edge, "A", name="a"))
    route.route("/b", Backend(other, "B", name="b"))
    objects = synth(edge)
    assert not [o for o in objects if o["kind"] == "ReferenceGrant"]
    refs = [
        r["backendRefs"][0] for r in find(objects, "HTTPRoute", "frontend-route")["spec"]["rules"]
    ]
    assert all("namespace" not in ref for ref in refs)


def test_a_backend_in_another_namespace_gets_a_reference_grant_there_in_its_own_chart() -> None:
    app = cdk8s.App()
    edge = cdk8s.Chart(app, "edge", namespace="shop", disable_resource_name_hashes=True)
    docs = cdk8s.Chart(app, "docs", namespace="docs", disable_resource_name_hashes=True)
    route = route_on(edge)
    route.route("/", Backend(edge, "A", name="a"))
    route.route("/docs", Backend(docs, "Docs", name="manual"))
    route.route("/manual", docs.node.find_child("Docs"))  # type: ignore[arg-type]
    objects = synth(edge)
    theirs = synth(docs)
    # One chart file per namespace: nothing of namespace docs in the route's chart.
    assert {o["metadata"]["namespace"] for o in objects} == {"shop"}
    assert {(o["kind"], o["metadata"]["namespace"]) for o in theirs} == {
        ("Service", "docs"),  # the backend's own
        ("ReferenceGrant", "docs"),
        ("NetworkPolicy", "docs"),
    }
    (grant,) = [o for o in theirs if o["kind"] == "ReferenceGrant"]
    assert grant["metadata"]["namespace"] == "docs"
    assert grant["spec"] == {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "shop"}],
        "to": [{"group": "", "kind": "Service", "name": "manual"}],
    }
    assert ("/docs", "manual") in rules(objects)
    refs = {
        r["matches"][0]["path"]["value"]: r["backendRefs"][0]
        for r in find(objects, "HTTPRoute", "frontend-route")["spec"]["rules"]
    }
    assert refs["/docs"] == {"name": "manual", "namespace": "docs", "port": 80}
    assert "namespace" not in refs["/"]
    # the policy goes where the backend's pods are, in their chart
    policy = find(theirs, "NetworkPolicy", "manual-from-shop-frontend-route")
    assert policy["metadata"]["namespace"] == "docs"
    assert (
        find(objects, "NetworkPolicy", "a-from-frontend-route")["metadata"]["namespace"] == "shop"
    )


def test_fails_on_a_backend_of_a_chart_without_namespace() -> None:
    app = cdk8s.App()
    edge = cdk8s.Chart(app, "edge", namespace="shop")
    loose = cdk8s.Chart(app, "loose")
    with pytest.raises(ValueError, match="both charts set a namespace"):
        route_on(edge).route("/", Backend(loose, "A", name="a"))


def test_the_wheel_ships_the_generated_classes_inside_the_library() -> None:
    package = ROOT / "constructs" / "journal_k8s" / "_gateway"
    assert (package / "__init__.py").is_file()
    assert list((package / "_jsii").glob("*.jsii.tgz"))
    assert _gateway.__name__ == "journal_k8s._gateway"
    assert not (ROOT / "imports" / "__init__.py").exists()
