"""PathIngress: v1 API, Prefix paths in call order, class, TLS, controller policies."""

from __future__ import annotations

import cdk8s
import pytest

from journal_k8s import ApiFrontend, IngressTls, PathIngress, Redis, StaticSite
from support import find, synth


def _routed(chart: cdk8s.Chart, **arguments: object) -> list[dict[str, object]]:
    ingress = PathIngress(chart, "Ingress", **arguments)  # type: ignore[arg-type]
    ingress.route("/api", ApiFrontend(chart, "Api", redis=Redis(chart, "Redis")))
    ingress.route("/", StaticSite(chart, "Static"))
    return synth(chart)


def test_v1_prefix_paths_in_call_order(chart: cdk8s.Chart) -> None:
    ingress = find(_routed(chart), "Ingress", "frontend-ingress")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/api", "Prefix"), ("/", "Prefix")]
    assert [p["backend"] for p in paths] == [
        {"service": {"name": "frontend", "port": {"number": 8080}}},
        {"service": {"name": "fileserver", "port": {"number": 80}}},
    ]
    assert "tls" not in ingress["spec"] and "annotations" not in ingress["metadata"]


def test_host_and_tls_with_cert_manager(chart: cdk8s.Chart) -> None:
    objects = _routed(
        chart,
        class_name="traefik",
        host="journal.example.com",
        tls=IngressTls(secret_name="journal-tls", cluster_issuer="letsencrypt-prod"),
    )
    ingress = find(objects, "Ingress", "frontend-ingress")
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt-prod"
    }
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["journal.example.com"], "secretName": "journal-tls"}
    ]
    assert ingress["spec"]["rules"][0]["host"] == "journal.example.com"


def test_cert_manager_solver_is_reachable_from_the_controller(chart: cdk8s.Chart) -> None:
    tls = IngressTls(secret_name="journal-tls", cluster_issuer="letsencrypt-prod")
    objects = _routed(chart, host="journal.example.com", tls=tls, controller_namespace="edge")
    policy = find(objects, "NetworkPolicy", "frontend-ingress-acme-solver")["spec"]
    assert policy["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
    assert policy["ingress"] == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}}
            ],
            "ports": [{"port": 8089, "protocol": "TCP"}],
        }
    ]


def test_no_solver_policy_without_an_issuer(chart: cdk8s.Chart) -> None:
    objects = _routed(chart, host="journal.example.com", tls=IngressTls(secret_name="own-cert"))
    assert not [o for o in objects if o["metadata"]["name"].endswith("-acme-solver")]


def test_controller_may_reach_each_backend_on_its_container_port(chart: cdk8s.Chart) -> None:
    objects = _routed(chart, controller_namespace="edge")
    for backend, port in (("frontend", 8080), ("fileserver", 8080)):
        policy = find(objects, "NetworkPolicy", f"{backend}-from-frontend-ingress")["spec"]
        assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == backend
        assert policy["ingress"] == [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}}
                ],
                "ports": [{"port": port, "protocol": "TCP"}],
            }
        ]


def test_fails_without_routes(chart: cdk8s.Chart) -> None:
    PathIngress(chart, "Ingress")
    with pytest.raises(RuntimeError) as failure:
        synth(chart)
    assert str(failure.value).splitlines()[1:] == [
        "  [test/Ingress/Resource] Ingress test/frontend-ingress: spec.rules[0].http.paths: [] "
        "is not allowed: expected at least one path (call route(path, backend))"
    ]


def test_fails_on_tls_without_host(chart: cdk8s.Chart) -> None:
    with pytest.raises(ValueError, match="tls is not allowed without host"):
        PathIngress(chart, "Ingress", tls=IngressTls(secret_name="x"))


def test_fails_on_malformed_path(chart: cdk8s.Chart) -> None:
    ingress = PathIngress(chart, "Ingress")
    with pytest.raises(
        ValueError, match="path='api' is not allowed: expected an absolute URL path"
    ):
        ingress.route("api", StaticSite(chart, "Static"))


def test_routes_render_once_and_keep_a_users_patch(chart: cdk8s.Chart) -> None:
    """The paths are private state rendered at synth (as kplus's Ingress renders its rules):
    a user's JSON patch between two routes applies to the final paths, never overwritten."""
    ingress = PathIngress(chart, "Ingress")
    ingress.route("/api", ApiFrontend(chart, "Api", redis=Redis(chart, "Redis")))
    cdk8s.ApiObject.of(ingress).add_json_patch(
        cdk8s.JsonPatch.replace("/spec/rules/0/http/paths/0/pathType", "ImplementationSpecific")
    )
    ingress.route("/", StaticSite(chart, "Static"))
    found = find(synth(chart), "Ingress", "frontend-ingress")
    paths = found["spec"]["rules"][0]["http"]["paths"]
    assert [(p["path"], p["pathType"]) for p in paths] == [
        ("/api", "ImplementationSpecific"),
        ("/", "Prefix"),
    ]
