"""JournalService: the three tiers and the Ingress, wired with the book's defaults."""

from __future__ import annotations

from typing import Any

import cdk8s
import pytest
from cdk8s_plus_27 import k8s
from syrupy.assertion import SnapshotAssertion

from journal_k8s import Failover, IngressTls, JournalService, PathRoute, PodOptions
from support import find, synth


def test_snapshot(chart: cdk8s.Chart, k8s_snapshot: SnapshotAssertion) -> None:
    JournalService(chart, "Journal")
    assert synth(chart) == k8s_snapshot


def test_every_object_is_named_as_in_the_book_where_the_book_is_right(chart: cdk8s.Chart) -> None:
    service = JournalService(chart, "Journal")
    names = {(o["kind"], o["metadata"]["name"]) for o in synth(chart)}
    for expected in [
        ("Deployment", "frontend"),
        ("Service", "frontend"),
        ("ConfigMap", "frontend-config"),
        ("StatefulSet", "redis"),
        ("Service", "redis"),
        ("Service", "redis-write"),
        ("Service", "redis-headless"),
        ("ConfigMap", "redis-config"),
        ("Deployment", "fileserver"),
        ("Service", "fileserver"),
        ("Ingress", "frontend-ingress"),
    ]:
        assert expected in names
    assert service.ingress.paths == ("/api", "/")


def test_every_object_lands_in_the_chart_namespace(chart: cdk8s.Chart) -> None:
    JournalService(chart, "Journal")
    assert {o["metadata"]["namespace"] for o in synth(chart)} == {"test"}


def test_each_service_selects_exactly_its_own_workload(chart: cdk8s.Chart) -> None:
    JournalService(chart, "Journal")
    objects = synth(chart)
    owner = {
        "frontend": "frontend",
        "fileserver": "fileserver",
        "redis": "redis",
        "redis-headless": "redis",
        "redis-write": "redis",
    }
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = dict(service["spec"]["selector"])
        selector.pop("statefulset.kubernetes.io/pod-name", None)  # narrows to one pod of the owner
        selected = [
            w["metadata"]["name"]
            for w in workloads
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert selected == [owner[service["metadata"]["name"]]]


def test_ingress_backends_and_target_ports_exist(chart: cdk8s.Chart) -> None:
    JournalService(chart, "Journal")
    objects = synth(chart)
    paths = find(objects, "Ingress", "frontend-ingress")["spec"]["rules"][0]["http"]["paths"]
    for path in paths:
        backend = path["backend"]["service"]
        service = find(objects, "Service", backend["name"])
        assert backend["port"]["number"] in [p["port"] for p in service["spec"]["ports"]]
        workload = next(
            o
            for o in objects
            if o["kind"] == "Deployment" and o["metadata"]["name"] == backend["name"]
        )
        container_ports = {
            port[key]
            for c in workload["spec"]["template"]["spec"]["containers"]
            for port in c["ports"]
            for key in ("name", "containerPort")
        }
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports


def gateway_route(chart: cdk8s.Chart) -> PathRoute:
    return PathRoute(chart, "Route", gateway_name="shared", gateway_namespace="gateway-system")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"host": "journal.example.com"}, r"host='journal.example.com' is not allowed: edge="),
        ({"tls": IngressTls(secret_name="cert")}, r"tls=IngressTls\(.*\) is not allowed: edge="),
        ({"ingress_class": "nginx"}, r"ingress_class='nginx' is not allowed: edge="),
        (
            {"ingress_controller_namespace": "ingress"},
            r"ingress_controller_namespace='ingress' is not allowed: edge=test/Route routes ",
        ),
        ({"with_ingress": False}, r"with_ingress=False is not allowed with edge=test/Route"),
    ],
)
def test_fails_on_an_ingress_argument_with_a_gateway_edge(
    chart: cdk8s.Chart, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        JournalService(chart, "Journal", edge=gateway_route(chart), **arguments)


@pytest.mark.parametrize(
    "arguments",
    [
        {"host": "journal.example.com"},
        {"tls": IngressTls(secret_name="cert")},
        {"ingress_class": "nginx"},
        {"ingress_controller_namespace": "ingress"},
    ],
)
def test_fails_on_an_ingress_argument_without_an_ingress(
    chart: cdk8s.Chart, arguments: dict[str, Any]
) -> None:
    (argument,) = arguments
    with pytest.raises(ValueError, match=rf"^{argument}=.* is not allowed: with_ingress=False "):
        JournalService(chart, "Journal", with_ingress=False, **arguments)


def test_the_ingress_arguments_reach_the_ingress(chart: cdk8s.Chart) -> None:
    JournalService(
        chart,
        "Journal",
        ingress_class="internal",
        host="journal.example.com",
        tls=IngressTls(secret_name="cert"),
        ingress_controller_namespace="ingress",
    )
    objects = synth(chart)
    spec = find(objects, "Ingress", "frontend-ingress")["spec"]
    assert spec["ingressClassName"] == "internal"
    assert spec["rules"][0]["host"] == "journal.example.com"
    assert spec["tls"] == [{"hosts": ["journal.example.com"], "secretName": "cert"}]
    policy = find(objects, "NetworkPolicy", "frontend-from-frontend-ingress")
    assert policy["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}
    ]


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"frontend_replicas": 0}, ValueError, r"^frontend_replicas=0 is not allowed"),
        ({"static_replicas": 0}, ValueError, r"^static_replicas=0 is not allowed"),
        ({"redis_replicas": 0}, ValueError, r"^redis_replicas=0 is not allowed"),
        ({"frontend_image": "x:latest"}, ValueError, r"^frontend_image='x:latest' is not"),
        ({"static_image": "Bad"}, ValueError, r"^static_image='Bad' is not allowed"),
        ({"redis_image": "Bad"}, ValueError, r"^redis_image='Bad' is not allowed"),
        ({"redis_storage": "512m"}, ValueError, r"^redis_storage='512m' is not allowed"),
        ({"redis_storage_class": "A"}, ValueError, r"^redis_storage_class='A' is not allowed"),
        ({"journal_entries": 0}, ValueError, r"^journal_entries=0 is not allowed"),
        ({"frontend_resources": "1"}, TypeError, r"^frontend_resources='1' is not allowed"),
        ({"static_resources": {}}, TypeError, r"^static_resources=\{\} is not allowed"),
        ({"redis_resources": "1"}, TypeError, r"^redis_resources='1' is not allowed"),
        ({"redis_password": "p"}, TypeError, r"^redis_password='p' is not allowed"),
        ({"frontend_pod": {}}, TypeError, r"^frontend_pod=\{\} is not allowed"),
        (
            {
                "static_pod": PodOptions(
                    env=[k8s.EnvVar(name="x")], volumes=[k8s.Volume(name="tmp")]
                )
            },
            ValueError,
            r"^static_pod volumes: 'tmp' is not allowed: the workload already uses it",
        ),
        (
            {"redis_replicas": 2, "redis_failover": Failover()},
            ValueError,
            r"^redis_replicas=2 is not allowed with failover",
        ),
        (
            {"redis_failover": Failover(min_replicas_to_write=3)},
            ValueError,
            r"^redis_failover min_replicas_to_write=3 is not allowed with redis_replicas=3",
        ),
        ({"ingress_class": "A"}, ValueError, r"^ingress_class='A' is not allowed"),
        (
            {"ingress_controller_namespace": "A"},
            ValueError,
            r"^ingress_controller_namespace='A' is not allowed",
        ),
        ({"host": "10.0.0.1"}, ValueError, r"^host='10.0.0.1' is not allowed"),
        ({"tls": IngressTls(secret_name="c")}, ValueError, r"^tls is not allowed without host"),
    ],
)
def test_an_error_names_the_argument_as_passed(
    chart: cdk8s.Chart, arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        JournalService(chart, "Journal", **arguments)
