"""RestrictedNamespace: Pod Security enforced, quota, limits, deny by default but DNS."""

from __future__ import annotations

import re

import cdk8s
import cdk8s_plus_27 as kplus
import pytest

from journal_k8s import Quota, Resources, RestrictedNamespace, adopt_restricted
from journal_tools.checks import problems
from support import find, synth

QUOTA = Quota(cpu="4", memory="8Gi", storage="100Gi", pods=12)


def test_objects(chart: cdk8s.Chart) -> None:
    RestrictedNamespace(chart, "Namespace", name="test", quota=QUOTA)
    objects = synth(chart)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", "test"),
        ("ResourceQuota", "journal-quota"),
        ("LimitRange", "journal-limits"),
        ("NetworkPolicy", "default-deny"),
        ("NetworkPolicy", "allow-dns"),
    ]
    assert problems(objects, external_secrets=set()) == []


def test_namespace_is_cluster_scoped_and_enforces_restricted(chart: cdk8s.Chart) -> None:
    RestrictedNamespace(chart, "Namespace", name="test", quota=QUOTA)
    namespace = find(synth(chart), "Namespace", "test")
    assert "namespace" not in namespace["metadata"]
    for mode in ("enforce", "audit", "warn"):
        assert namespace["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert namespace["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}-version"] == (
            "v1.27"
        )


def test_guard_rails_live_in_the_namespace_they_guard() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "other", namespace="elsewhere")
    RestrictedNamespace(chart, "Namespace", name="team-a", quota=QUOTA)
    namespaces = {
        o["kind"] + "/" + o["metadata"]["name"]: o["metadata"].get("namespace")
        for o in synth(chart)
    }
    assert namespaces == {
        "Namespace/team-a": None,
        "ResourceQuota/journal-quota": "team-a",
        "LimitRange/journal-limits": "team-a",
        "NetworkPolicy/default-deny": "team-a",
        "NetworkPolicy/allow-dns": "team-a",
    }


def test_quota_covers_requests_and_limits(chart: cdk8s.Chart) -> None:
    RestrictedNamespace(chart, "Namespace", name="test", quota=QUOTA)
    assert find(synth(chart), "ResourceQuota", "journal-quota")["spec"]["hard"] == {
        "limits.cpu": "4",
        "limits.memory": "8Gi",
        "pods": "12",  # stored as a string by the API server
        "requests.cpu": "4",
        "requests.memory": "8Gi",
        "requests.storage": "100Gi",
    }


def test_denies_everything_but_dns(chart: cdk8s.Chart) -> None:
    RestrictedNamespace(chart, "Namespace", name="test", quota=QUOTA)
    objects = synth(chart)
    deny = find(objects, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = find(objects, "NetworkPolicy", "allow-dns")["spec"]
    assert dns["policyTypes"] == ["Egress"] and "ingress" not in dns
    assert {(p["protocol"], p["port"]) for p in dns["egress"][0]["ports"]} == {
        ("UDP", 53),
        ("TCP", 53),
    }


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Quota(cpu="4 cores", memory="8Gi", storage="1Gi", pods=1), "quota cpu='4 cores'"),
        (lambda: Quota(cpu="4", memory="0", storage="1Gi", pods=1), "quota memory='0'"),
        (lambda: Quota(cpu="4", memory="8Gi", storage="1Gi", pods=0), "quota pods=0"),
    ],
)
def test_rejects_a_bad_quota(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()  # type: ignore[operator]


def test_rejects_a_bad_name(chart: cdk8s.Chart) -> None:
    with pytest.raises(ValueError, match=re.escape("name='Team_A' is not allowed")):
        RestrictedNamespace(chart, "Namespace", name="Team_A", quota=QUOTA)


def test_the_limit_range_gives_the_book_sized_defaults(chart: cdk8s.Chart) -> None:
    RestrictedNamespace(chart, "Namespace", name="test", quota=QUOTA)
    (limits,) = find(synth(chart), "LimitRange", "journal-limits")["spec"]["limits"]
    assert limits == {
        "type": "Container",
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        "default": {"cpu": "500m", "memory": "512Mi"},
    }


def test_quota_and_limits_take_names_and_defaults_of_the_caller(chart: cdk8s.Chart) -> None:
    RestrictedNamespace(
        chart,
        "Namespace",
        name="test",
        quota=QUOTA,
        quota_name="team-quota",
        limits_name="team-limits",
        container_defaults=Resources(cpu="50m", memory="64Mi", memory_limit="256Mi"),
    )
    objects = synth(chart)
    assert find(objects, "ResourceQuota", "team-quota")["spec"]["hard"]["requests.cpu"] == "4"
    (limits,) = find(objects, "LimitRange", "team-limits")["spec"]["limits"]
    assert limits["defaultRequest"] == {"cpu": "50m", "memory": "64Mi"}
    assert limits["default"] == {"cpu": "50m", "memory": "256Mi"}
    assert not [o for o in objects if o["metadata"]["name"].startswith("journal-")]


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"quota_name": "Quota"}, ValueError, "quota_name='Quota' is not allowed"),
        ({"limits_name": "a_b"}, ValueError, "limits_name='a_b' is not allowed"),
        (
            {"container_defaults": {"cpu": "1"}},
            TypeError,
            "container_defaults={'cpu': '1'} is not allowed: expected journal_k8s.Resources",
        ),
    ],
)
def test_rejects_bad_names_and_defaults(
    chart: cdk8s.Chart, arguments: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        RestrictedNamespace(chart, "Namespace", name="test", quota=QUOTA, **arguments)  # type: ignore[arg-type]


def test_a_workload_without_a_namespace_beside_it_fails_the_synth_naming_both() -> None:
    """In a chart without a namespace, a workload would go where kubectl's context says: the
    restricted check cannot know that namespace, so the synth says what to give."""
    chart = cdk8s.Chart(cdk8s.App(), "team")
    RestrictedNamespace(chart, "Namespace", name="team-a", quota=QUOTA)
    kplus.Deployment(chart, "Web", containers=[kplus.ContainerProps(image="team/web:1.0")])
    with pytest.raises(RuntimeError) as failed:
        cdk8s.Testing.synth(chart)
    assert re.search(
        r"\[team/Namespace\] Deployment team-web-\w+ has no namespace, in a chart without one "
        r"that holds RestrictedNamespace 'team-a': it is not checked against Pod Security "
        r"'restricted' \(give the chart namespace='team-a', or the workload its namespace\)",
        str(failed.value),
    )


def test_a_chart_without_a_namespace_may_hold_namespaces_and_namespaced_workloads() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "platform")
    for name in ("team-a", "team-b"):
        RestrictedNamespace(chart, name, name=name, quota=QUOTA)
    web = kplus.Deployment(
        chart,
        "Web",
        replicas=1,
        metadata=cdk8s.ApiObjectMetadata(namespace="team-a"),
        containers=[kplus.ContainerProps(image="team/web:1.0")],
    )
    adopt_restricted(web, uid=10001)
    objects = cdk8s.Testing.synth(chart)
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"] == [
        "team-a",
        "team-b",
    ]
