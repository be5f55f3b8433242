"""Autoscaling: the Autoscaling option, the tiers as kplus.IScalable, quotas, budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cdk8s
import cdk8s_plus_27 as kplus
import pytest
from cdk8s_plus_27 import k8s

from journal_k8s import (
    ApiFrontend,
    Autoscaling,
    DisruptionBudget,
    JournalService,
    PodOptions,
    Quota,
    Redis,
    StaticSite,
    adopt_restricted,
    capacity_problems,
    restricted_container_security,
)
from journal_tools import schemas
from journal_tools import synth as synth_module
from journal_tools.manifests import from_yaml
from support import Manifest, failures, find, restricted_namespace, synth

# The option


def test_an_autoscaled_tier_gets_an_autoscaling_v2_hpa_and_no_replicas(chart: cdk8s.Chart) -> None:
    restricted_namespace(chart)
    scaling = Autoscaling(
        min_replicas=2,
        max_replicas=6,
        cpu_utilization=60,
        memory_utilization=80,
        scale_down_stabilization=600,
    )
    ApiFrontend(chart, "Api", redis=Redis(chart, "Redis"), autoscaling=scaling)
    objects = synth(chart)
    assert "replicas" not in find(objects, "Deployment", "frontend")["spec"]
    hpa = find(objects, "HorizontalPodAutoscaler", "frontend")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["namespace"] == "test"
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "frontend"},
        "minReplicas": 2,
        "maxReplicas": 6,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60},
                },
            },
            {
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            },
        ],
        # As the API server stores it: every field of a given behavior filled in.
        "behavior": {
            "scaleUp": {
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15},
                ],
            },
            "scaleDown": {
                "stabilizationWindowSeconds": 600,
                "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
            },
        },
    }
    # At least 2 pods at all times: one at a time.
    assert find(objects, "PodDisruptionBudget", "frontend")["spec"]["maxUnavailable"] == 1


def test_defaults_scale_on_cpu_at_70_percent_with_a_5_minute_scale_down_window() -> None:
    scaling = Autoscaling(min_replicas=1, max_replicas=3)
    assert (scaling.cpu_utilization, scaling.memory_utilization) == (70, None)
    assert scaling.scale_down_stabilization == 300


def test_journal_service_takes_an_autoscaling_per_tier(chart: cdk8s.Chart) -> None:
    restricted_namespace(chart)
    JournalService(
        chart,
        "Journal",
        frontend_autoscaling=Autoscaling(min_replicas=3, max_replicas=9),
        static_autoscaling=Autoscaling(min_replicas=1, max_replicas=4, cpu_utilization=80),
    )
    objects = synth(chart)
    hpas = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"].startswith("Horizontal")}
    assert {name: (s["minReplicas"], s["maxReplicas"]) for name, s in hpas.items()} == {
        "frontend": (3, 9),
        "fileserver": (1, 4),
    }
    for name in ("frontend", "fileserver"):
        assert "replicas" not in find(objects, "Deployment", name)["spec"]
    assert find(objects, "StatefulSet", "redis")["spec"]["replicas"] == 3


@pytest.mark.parametrize("version", schemas.VERSIONS)
def test_the_hpa_and_the_deployments_are_strict_valid(chart: cdk8s.Chart, version: str) -> None:
    restricted_namespace(chart)
    JournalService(
        chart,
        "Journal",
        frontend_autoscaling=Autoscaling(min_replicas=2, max_replicas=5, memory_utilization=75),
        static_autoscaling=Autoscaling(min_replicas=1, max_replicas=3),
    )
    objects = [
        o
        for o in synth(chart)
        if o["kind"] in ("HorizontalPodAutoscaler", "Deployment", "PodDisruptionBudget")
    ]
    assert len(objects) == 7  # 2 autoscalers, 2 Deployments, 3 budgets (Redis too)
    assert [e for o in objects for e in schemas.validate(o, version)] == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"min_replicas": 3, "max_replicas": 2},
            "autoscaling max_replicas=2 is not allowed: expected at least min_replicas=3",
        ),
        (
            {"min_replicas": 0, "max_replicas": 2},
            "autoscaling min_replicas=0 is not allowed: expected an integer >= 1",
        ),
        (
            {"min_replicas": 1, "max_replicas": 2, "cpu_utilization": None},
            "autoscaling cpu_utilization=None is not allowed without memory_utilization",
        ),
        (
            {"min_replicas": 1, "max_replicas": 2, "cpu_utilization": 0},
            "autoscaling cpu_utilization=0 is not allowed: expected an integer >= 1",
        ),
        (
            {"min_replicas": 1, "max_replicas": 2, "scale_down_stabilization": 3601},
            "autoscaling scale_down_stabilization=3601 is not allowed: expected an integer from "
            "0 to 3600",
        ),
    ],
)
def test_fails_autoscaling_out_of_range(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Autoscaling(**arguments)


def test_fails_cpu_utilization_with_a_sidecar_that_requests_no_cpu(chart: cdk8s.Chart) -> None:
    sidecar = k8s.Container(
        name="log", image="busybox:1.36", security_context=restricted_container_security()
    )
    with pytest.raises(ValueError, match="autoscaling cpu_utilization=70") as failure:
        StaticSite(
            chart,
            "Static",
            pod=PodOptions(sidecars=[sidecar]),
            autoscaling=Autoscaling(min_replicas=2, max_replicas=4),
        )
    assert str(failure.value) == (
        "autoscaling cpu_utilization=70 is not allowed: sidecar 'log' requests no cpu, and the "
        "autoscaler computes utilization over every container; give it resources.requests.cpu"
    )


# cdk8s-plus interop: the tiers are kplus.IScalable


@pytest.mark.parametrize(
    ("tier", "name", "container"),
    [("api", "frontend", "api"), ("static_site", "fileserver", "nginx")],
)
def test_a_kplus_hpa_scales_a_journal_tier_as_a_kplus_deployment(
    chart: cdk8s.Chart, tier: str, name: str, container: str
) -> None:
    restricted_namespace(chart)
    journal = JournalService(chart, "Journal")
    target = getattr(journal, tier)
    assert not target.has_autoscaler
    kplus.HorizontalPodAutoscaler(
        chart,
        "Hpa",
        metadata=cdk8s.ApiObjectMetadata(name=f"{name}-hpa"),
        target=target,
        min_replicas=2,
        max_replicas=7,
        metrics=[kplus.Metric.resource_cpu(kplus.MetricTarget.average_utilization(65))],
    )
    assert target.has_autoscaler
    scaling = target.to_scaling_target()
    assert (scaling.api_version, scaling.kind, scaling.name, scaling.replicas) == (
        "apps/v1",
        "Deployment",
        name,
        None,
    )
    assert [c.name for c in scaling.containers] == [container]
    assert scaling.containers[0].resources.cpu.request.amount == "1000m"
    objects = synth(chart)
    hpa = find(objects, "HorizontalPodAutoscaler", f"{name}-hpa")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name,
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 7)
    assert "replicas" not in find(objects, "Deployment", name)["spec"]
    # The other tier keeps its fixed replicas.
    other = "fileserver" if name == "frontend" else "frontend"
    assert find(objects, "Deployment", other)["spec"]["replicas"] == 2
    # A kplus autoscaler's floor is not known to the tier: never the last pod.
    assert find(objects, "PodDisruptionBudget", name)["spec"] == {
        "minAvailable": 1,
        "selector": {
            "matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "journal"}
        },
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }


def test_the_quota_counts_a_kplus_hpa_on_a_journal_tier(chart: cdk8s.Chart) -> None:
    restricted_namespace(chart, Quota(cpu="64", memory="128Gi", storage="500Gi", pods=20))
    journal = JournalService(chart, "Journal")
    kplus.HorizontalPodAutoscaler(chart, "Hpa", target=journal.api, max_replicas=15)
    # Redis 3 + API 15 + surge 1 + NGINX 2 + surge 1 = 22 pods.
    assert failures(chart) == [
        "[test/Namespace/Quota] ResourceQuota test/journal-quota: spec.hard.pods: '20' cannot hold "
        "the namespace's workloads at their most, 22 = StatefulSet redis 3 pods (3 replicas) + "
        "Deployment frontend 16 pods (autoscaler maxReplicas 15 + surge 1) + Deployment "
        "fileserver 3 pods (2 replicas + surge 1): raise the quota, or lower the replicas or "
        "an autoscaler's max_replicas"
    ]


def test_fails_fixed_replicas_beside_an_autoscaling_naming_the_caller_s_arguments(
    chart: cdk8s.Chart,
) -> None:
    scaling = Autoscaling(min_replicas=2, max_replicas=6)
    with pytest.raises(ValueError, match=r"^frontend_replicas=5") as refused:
        JournalService(chart, "Journal", frontend_replicas=5, frontend_autoscaling=scaling)
    assert str(refused.value) == (
        "frontend_replicas=5 is not allowed with autoscaling: its HorizontalPodAutoscaler sets "
        "the number of pods (from min_replicas to max_replicas); give one of "
        "frontend_replicas= and frontend_autoscaling="
    )
    with pytest.raises(ValueError, match=r"^replicas=2 is not allowed with autoscaling"):
        StaticSite(chart, "Static", replicas=2, autoscaling=scaling)


def test_a_tier_given_neither_replicas_nor_autoscaling_runs_2_pods(chart: cdk8s.Chart) -> None:
    StaticSite(chart, "Static")
    assert find(synth(chart), "Deployment", "fileserver")["spec"]["replicas"] == 2


def test_fails_a_second_autoscaler_on_one_tier(chart: cdk8s.Chart) -> None:
    site = StaticSite(chart, "Static", autoscaling=Autoscaling(min_replicas=2, max_replicas=4))
    with pytest.raises(RuntimeError, match="a second autoscaler is not allowed"):
        kplus.HorizontalPodAutoscaler(chart, "Hpa", target=site, max_replicas=5)


# The quota, checked in the library for any app


def test_fails_a_quota_that_cannot_hold_max_replicas_naming_every_figure(
    chart: cdk8s.Chart,
) -> None:
    restricted_namespace(chart, Quota(cpu="10", memory="64Gi", storage="100Gi", pods=40))
    JournalService(
        chart, "Journal", frontend_autoscaling=Autoscaling(min_replicas=2, max_replicas=8)
    )
    # Redis 3 x 500m + API (8 + surge 1) x 1 + NGINX (2 + surge 1) x 1 = 13.5 CPU.
    figures = (
        "cannot hold the namespace's workloads at their most, 13.5 = StatefulSet redis 3 pods "
        "(3 replicas) * 0.5 + Deployment frontend 9 pods (autoscaler maxReplicas 8 + surge 1) "
        "* 1 + Deployment fileserver 3 pods (2 replicas + surge 1) * 1: raise the quota, or "
        "lower the replicas or an autoscaler's max_replicas"
    )
    assert failures(chart) == [
        f"[test/Namespace/Quota] ResourceQuota test/journal-quota: spec.hard.{key}: '10' {figures}"
        for key in ("limits.cpu", "requests.cpu")
    ]


def test_the_quota_counts_sidecars_and_the_largest_init_container(chart: cdk8s.Chart) -> None:
    restricted_namespace(chart, Quota(cpu="8", memory="64Gi", storage="100Gi", pods=40))
    q = k8s.Quantity.from_string
    secure = restricted_container_security()
    log = k8s.Container(
        name="log",
        image="busybox:1.36",
        security_context=secure,
        resources=k8s.ResourceRequirements(
            requests={"cpu": q("100m"), "memory": q("64Mi")},
            limits={"cpu": q("100m"), "memory": q("64Mi")},
        ),
    )
    migrate = k8s.Container(
        name="migrate",
        image="busybox:1.36",
        security_context=secure,
        resources=k8s.ResourceRequirements(
            requests={"cpu": q("2"), "memory": q("64Mi")},
            limits={"cpu": q("2"), "memory": q("64Mi")},
        ),
    )
    ApiFrontend(
        chart,
        "Api",
        redis=Redis(chart, "Redis", replicas=1),
        pod=PodOptions(sidecars=[log], init_containers=[migrate]),
        autoscaling=Autoscaling(min_replicas=1, max_replicas=3),
    )
    # Each API pod: max(api 1 + log 0.1, migrate 2) = 2 CPU; (3 + surge 1) x 2 + Redis 0.5.
    figures = (
        "cannot hold the namespace's workloads at their most, 8.5 = StatefulSet redis 1 pod "
        "(1 replica) * 0.5 + Deployment frontend 4 pods (autoscaler maxReplicas 3 + surge 1) * "
        "2: raise the quota, or lower the replicas or an autoscaler's max_replicas"
    )
    assert failures(chart) == [
        f"[test/Namespace/Quota] ResourceQuota test/journal-quota: spec.hard.{key}: '8' {figures}"
        for key in ("limits.cpu", "requests.cpu")
    ]


def test_every_environment_holds_its_workloads_at_their_most(dist: Path) -> None:
    for environment in ("dev", "staging", "prod"):
        objects = from_yaml((dist / environment / synth_module.MANIFEST_FILE).read_text())
        assert capacity_problems(objects) == []


# The rules over final manifests, on manifests written by hand


def deployment(name: str, containers: list[Manifest], **spec: Any) -> Manifest:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "team"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
            **spec,
        },
    }


def quota(**hard: Any) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "team"},
        "spec": {"hard": hard},
    }


def hpa(target: str, **spec: Any) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": target, "namespace": "team"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "maxReplicas": 4,
            **spec,
        },
    }


def cpu(request: str) -> Manifest:
    return {"requests": {"cpu": request}, "limits": {"cpu": request}}


def test_a_running_init_container_counts_as_a_sidecar() -> None:
    web = deployment(
        "web",
        [{"name": "a", "resources": cpu("500m")}],
        replicas=2,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
    )
    web["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "proxy", "restartPolicy": "Always", "resources": cpu("200m")},
        {"name": "setup", "resources": cpu("1")},
    ]
    # Per pod: max(a 0.5 + proxy 0.2, setup 1 + proxy 0.2) = 1.2; 3 pods = 3.6.
    assert capacity_problems([quota(**{"requests.cpu": "3"}), web]) == [
        "ResourceQuota team/q: spec.hard.requests.cpu: '3' cannot hold the namespace's "
        "workloads at their most, 3.6 = Deployment web 3 pods (2 replicas + surge 1) * 1.2: "
        "raise the quota, or lower the replicas or an autoscaler's max_replicas"
    ]


def test_a_default_surge_of_25_percent_rounds_up_and_limit_range_defaults_count() -> None:
    web = deployment("web", [{"name": "a"}], replicas=5)
    limits = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "l", "namespace": "team"},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]},
    }
    # 5 replicas + ceil(25% of 5) = 7 pods; no request: the default limit is the request.
    assert capacity_problems([quota(cpu="3", **{"limits.cpu": "4"}), limits, web]) == [
        "ResourceQuota team/q: spec.hard.cpu: '3' cannot hold the namespace's workloads at "
        "their most, 3.5 = Deployment web 7 pods (5 replicas + surge 2) * 0.5: raise the quota, "
        "or lower the replicas or an autoscaler's max_replicas"
    ]


def test_fails_a_container_without_the_request_a_quota_limits() -> None:
    web = deployment("web", [{"name": "a", "resources": {"requests": {"memory": "1Gi"}}}])
    assert capacity_problems([quota(**{"requests.cpu": "3"}), web]) == [
        "Deployment web: a container has no cpu requests (nor a LimitRange default), while "
        "ResourceQuota q limits requests.cpu: the API server would refuse its pods; give every "
        "container resources.requests.cpu"
    ]


def test_fails_cpu_utilization_on_a_container_without_a_cpu_request() -> None:
    web = deployment("web", [{"name": "a", "resources": {"requests": {"memory": "1Gi"}}}])
    utilization = {"type": "Utilization", "averageUtilization": 70}
    scaler = hpa(
        "web", metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": utilization}}]
    )
    assert capacity_problems([web, scaler]) == [
        "HorizontalPodAutoscaler team/web targets cpu utilization, but container 'a' of "
        "Deployment web requests no cpu: utilization is a share of the request, so the "
        "autoscaler cannot scale on it; give the container a cpu request"
    ]


def test_fails_replicas_on_an_autoscaled_workload() -> None:
    web = deployment("web", [{"name": "a", "resources": cpu("1")}], replicas=3)
    assert capacity_problems([web, hpa("web")]) == [
        "HorizontalPodAutoscaler team/web scales Deployment web, whose spec.replicas is 3: "
        "every apply would reset the replicas the autoscaler chose; leave replicas out of an "
        "autoscaled workload"
    ]


# Disruption budgets


def budget(**spec: Any) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "team"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def test_fails_a_budget_that_allows_a_full_outage_at_min_replicas() -> None:
    web = deployment("web", [{"name": "a", "resources": cpu("1")}])
    assert capacity_problems([web, hpa("web", minReplicas=1), budget(maxUnavailable=1)]) == [
        "PodDisruptionBudget team/web of Deployment web (1 to 4 pods): spec.maxUnavailable: 1 "
        "lets every pod go at once at the fewest pods (1): a full outage; expected fewer than "
        "1, or minAvailable"
    ]
    assert capacity_problems([web, hpa("web", minReplicas=2), budget(maxUnavailable=1)]) == []
    assert capacity_problems([web, hpa("web"), budget(minAvailable=1)]) == []


def test_fails_a_budget_that_blocks_every_drain() -> None:
    web = deployment("web", [{"name": "a", "resources": cpu("1")}], replicas=3)
    assert capacity_problems([web, budget(minAvailable="100%")]) == [
        "PodDisruptionBudget team/web of Deployment web (3 pods): spec.minAvailable: '100%' "
        "blocks every eviction even at the most pods (3): node drains would wait for ever; "
        "expected fewer than 3"
    ]


def test_a_single_fixed_pod_keeps_max_unavailable_1(chart: cdk8s.Chart) -> None:
    StaticSite(chart, "Static", replicas=1)
    spec = find(synth(chart), "PodDisruptionBudget", "fileserver")["spec"]
    assert spec["maxUnavailable"] == 1 and "minAvailable" not in spec


def test_min_replicas_1_keeps_one_pod_through_a_drain(chart: cdk8s.Chart) -> None:
    StaticSite(chart, "Static", autoscaling=Autoscaling(min_replicas=1, max_replicas=4))
    spec = find(synth(chart), "PodDisruptionBudget", "fileserver")["spec"]
    assert spec["minAvailable"] == 1 and "maxUnavailable" not in spec


def test_the_budget_is_configurable_per_tier(chart: cdk8s.Chart) -> None:
    JournalService(
        chart,
        "Journal",
        frontend_autoscaling=Autoscaling(min_replicas=4, max_replicas=12),
        frontend_budget=DisruptionBudget(max_unavailable="25%"),
        static_budget=DisruptionBudget(min_available=1),
        redis_budget=DisruptionBudget(max_unavailable=1),
    )
    objects = synth(chart)
    specs = {n: find(objects, "PodDisruptionBudget", n)["spec"] for n in ("frontend", "fileserver")}
    assert specs["frontend"]["maxUnavailable"] == "25%"
    assert specs["fileserver"]["minAvailable"] == 1


@pytest.mark.parametrize(
    ("scaling", "given", "message"),
    [
        (
            Autoscaling(min_replicas=2, max_replicas=6),
            DisruptionBudget(max_unavailable=2),
            "budget is not allowed for 2 to 6 pods: maxUnavailable: 2 lets every pod go at once "
            "at the fewest pods (2): a full outage; expected fewer than 2, or minAvailable",
        ),
        (
            Autoscaling(min_replicas=2, max_replicas=6),
            DisruptionBudget(min_available=6),
            "budget is not allowed for 2 to 6 pods: minAvailable: 6 blocks every eviction even "
            "at the most pods (6): node drains would wait for ever; expected fewer than 6",
        ),
        (
            Autoscaling(min_replicas=1, max_replicas=3),
            DisruptionBudget(max_unavailable="50%"),
            "budget is not allowed for 1 to 3 pods: maxUnavailable: '50%' lets every pod go at "
            "once at the fewest pods (1): a full outage; expected fewer than 1, or minAvailable",
        ),
    ],
)
def test_fails_a_budget_that_defeats_itself(
    chart: cdk8s.Chart, scaling: Autoscaling, given: DisruptionBudget, message: str
) -> None:
    with pytest.raises(ValueError, match="budget is not allowed") as failure:
        StaticSite(chart, "Static", autoscaling=scaling, budget=given)
    assert str(failure.value) == message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "budget with neither is not allowed"),
        (
            {"max_unavailable": 1, "min_available": 1},
            "budget max_unavailable=1, min_available=1 is not allowed",
        ),
        ({"max_unavailable": "150%"}, "budget max_unavailable='150%' is not allowed"),
        ({"min_available": 0}, "budget min_available=0 is not allowed"),
    ],
)
def test_fails_a_malformed_budget(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DisruptionBudget(**arguments)


def test_checks_run_on_the_final_manifests_after_json_patches(chart: cdk8s.Chart) -> None:
    restricted_namespace(chart, Quota(cpu="64", memory="128Gi", storage="500Gi", pods=12))
    journal = JournalService(chart, "Journal")
    journal.static_site.deployment.add_json_patch(cdk8s.JsonPatch.replace("/spec/replicas", 6))
    # Redis 3 + API 2 + 1 + NGINX 6 + 1 = 13 pods.
    problems = failures(chart)
    assert len(problems) == 1 and "spec.hard.pods: '12'" in problems[0]
    assert "Deployment fileserver 7 pods (6 replicas + surge 1)" in problems[0]


def test_app_synth_checks_a_kplus_hpa_on_a_kplus_deployment(tmp_path: Path) -> None:
    app = cdk8s.App(outdir=str(tmp_path))
    chart = cdk8s.Chart(app, "team", namespace="test", disable_resource_name_hashes=True)
    restricted_namespace(chart, Quota(cpu="64", memory="128Gi", storage="500Gi", pods=10))
    web = kplus.Deployment(
        chart,
        "Web",
        metadata=cdk8s.ApiObjectMetadata(name="web"),
        containers=[kplus.ContainerProps(image="team/web:1.0", port_number=8080)],
    )
    adopt_restricted(web, uid=10001)
    kplus.HorizontalPodAutoscaler(chart, "Hpa", target=web, max_replicas=9)
    with pytest.raises(RuntimeError) as failure:
        app.synth()
    # kplus's default rolling update: maxSurge 25 % of 9, rounded up = 3.
    assert (
        "[team/Namespace/Quota] ResourceQuota test/journal-quota: spec.hard.pods: '10' cannot hold "
        "the namespace's workloads at their most, 12 = Deployment web 12 pods (autoscaler "
        "maxReplicas 9 + surge 3): raise the quota, or lower the replicas or an autoscaler's "
        "max_replicas"
    ) in str(failure.value)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_malformed_field_the_capacity_rules_read_is_reported_on_its_own() -> None:
    """A JSON patch's ``"abc"`` or a team's own ``500MB`` is named with its object and field
    (it used to end the synth with a bare ``'abc' is not a Kubernetes quantity``)."""
    web = deployment(
        "web",
        [{"name": "a", "resources": {"requests": {"cpu": "abc", "memory": "500MB"}}}, "b"],
        replicas="2",
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "many"}},
    )
    broken_quota = quota(cpu="lots", pods=10, **{"count/jobs": "x"})  # an uncounted key
    assert capacity_problems([broken_quota, web, hpa("web", minReplicas=True)]) == [
        "ResourceQuota team/q: spec.hard.cpu: 'lots' is not allowed: expected a Kubernetes "
        "quantity (500m, 2, 1.5Gi)",
        "Deployment team/web: spec.template.spec.containers[0].resources.requests.cpu: 'abc' "
        "is not allowed: expected a Kubernetes quantity (500m, 2, 1.5Gi)",
        "Deployment team/web: spec.template.spec.containers[0].resources.requests.memory: "
        "'500MB' is not allowed: expected a Kubernetes quantity (500m, 2, 1.5Gi)",
        "Deployment team/web: spec.template.spec.containers[1]: 'b' is not allowed: expected "
        "a mapping",
        "Deployment team/web: spec.replicas: '2' is not allowed: expected a whole number",
        "Deployment team/web: spec.strategy.rollingUpdate.maxSurge: 'many' is not allowed: "
        "expected a whole number or a percentage (25%)",
        "HorizontalPodAutoscaler team/web: spec.minReplicas: True is not allowed: expected a "
        "whole number",
    ]


def test_a_quota_whose_hard_is_no_mapping_is_reported() -> None:
    assert capacity_problems([{**quota(), "spec": {"hard": ["cpu", "4"]}}]) == [
        "ResourceQuota team/q: spec.hard: ['cpu', '4'] is not allowed: expected a mapping"
    ]


def test_a_malformed_field_fails_the_synth_naming_its_construct(chart: cdk8s.Chart) -> None:
    restricted_namespace(chart)
    journal = JournalService(chart, "Journal")
    cdk8s.ApiObject.of(journal.api.deployment).add_json_patch(
        cdk8s.JsonPatch.add("/spec/template/spec/containers/0/resources/requests/cpu", "abc")
    )
    with pytest.raises(RuntimeError) as error:
        cdk8s.Testing.synth(chart)
    assert (
        "[test/Journal/Api/Deployment] Deployment test/frontend: spec.template.spec.containers[0]"
        ".resources.requests.cpu: 'abc' is not allowed: expected a Kubernetes quantity"
    ) in str(error.value)


def test_a_quantity_in_another_form_than_the_api_server_stores_fails_the_synth(
    chart: cdk8s.Chart,
) -> None:
    """The API server stores ``0.5`` as ``500m``: a patch that writes ``0.5`` into a journal
    object would show as a change at every GitOps diff. A team's own kplus workload (whose
    defaults cdk8s-plus writes as ``1000m``) is not the library's to judge."""
    restricted_namespace(chart)
    journal = JournalService(chart, "Journal")
    cdk8s.ApiObject.of(journal.api.deployment).add_json_patch(
        cdk8s.JsonPatch.add("/spec/template/spec/containers/0/resources/requests/cpu", "0.5"),
        cdk8s.JsonPatch.add("/spec/template/spec/containers/0/resources/limits/memory", "1.5Gi"),
    )
    team = cdk8s.Chart(chart.node.scope, "team", namespace="team")  # type: ignore[arg-type]
    kplus.Deployment(team, "Team", containers=[kplus.ContainerProps(image="team/app:1.0")])
    assert failures(chart) == [
        f"[test/Journal/Api/Deployment] Deployment test/frontend: spec.template.spec."
        f"containers[0].resources.{part}: {given!r} is not allowed: expected {stored!r}, the form "
        "the API server stores (a GitOps differ would show any other as a change for ever)"
        for part, given, stored in (
            ("requests.cpu", "0.5", "500m"),
            ("limits.memory", "1.5Gi", "1536Mi"),
        )
    ]
    assert capacity_problems(
        [{**quota(), "spec": {"hard": {"requests.cpu": "2000m", "requests.memory": "1Gi"}}}]
    ) == [
        "ResourceQuota team/q: spec.hard.requests.cpu: '2000m' is not allowed: expected '2', the "
        "form the API server stores (a GitOps differ would show any other as a change for ever)"
    ]
