"""JournalService: the three tiers and the Ingress, wired with the book's defaults."""

from __future__ import annotations

import cdk8s
from syrupy.assertion import SnapshotAssertion

from journal_k8s import JournalService
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
