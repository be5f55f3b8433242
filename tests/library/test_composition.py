"""Composing the constructs in another team's app: names, duplicates, namespaces, customization."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import cdk8s
import cdk8s_plus_27 as kplus
import pytest
from cdk8s_plus_27 import k8s

from journal_k8s import (
    ApiFrontend,
    Failover,
    JournalService,
    Metrics,
    PathIngress,
    PodOptions,
    Quota,
    Redis,
    Resources,
    StaticSite,
)
from support import find, synth


def another_chart(chart: cdk8s.Chart, id: str, namespace: str | None) -> cdk8s.Chart:
    app = chart.node.scope
    assert isinstance(app, cdk8s.App)
    return cdk8s.Chart(app, id, namespace=namespace, disable_resource_name_hashes=True)


def test_fails_on_two_objects_of_one_kind_namespace_and_name_naming_both_paths(
    chart: cdk8s.Chart,
) -> None:
    Redis(chart, "First")
    Redis(chart, "Second")
    with pytest.raises(RuntimeError) as failure:
        synth(chart)
    lines = str(failure.value).splitlines()[1:]
    assert (
        "  [test/Second/StatefulSet] StatefulSet test/redis: metadata.name: 'redis' is defined "
        "twice: expected one object per API group, kind, namespace and name; give one of them "
        "another name (the other: test/First/StatefulSet)"
    ) in lines
    assert len(lines) == 8  # one line per object of the second Redis, each under its own path
    assert all(line.startswith("  [test/Second/") for line in lines)


def test_the_duplicate_check_runs_in_app_synth_and_testing_synth(chart: cdk8s.Chart) -> None:
    JournalService(chart, "One")
    JournalService(chart, "Two")
    with pytest.raises(RuntimeError, match="is defined twice"):
        cdk8s.Testing.synth(chart)
    app = chart.node.scope
    assert isinstance(app, cdk8s.App)
    with pytest.raises(RuntimeError, match=r"\[test/Two/Ingress/Resource\] Ingress test/frontend-"):
        app.synth()


def test_the_same_names_in_two_namespaces_are_no_duplicate(chart: cdk8s.Chart) -> None:
    other = another_chart(chart, "other", "other")
    JournalService(chart, "Journal")
    JournalService(other, "Journal", host="other.example.com")  # one route per host and path
    assert len(synth(chart)) == len(synth(other))


def test_a_journal_name_flows_to_every_object(chart: cdk8s.Chart) -> None:
    JournalService(chart, "Blue", name="blue", host="blue.example.com")
    JournalService(chart, "Green", name="green", host="green.example.com")
    objects = synth(chart)
    blue = sorted(o["metadata"]["name"] for o in objects if "blue" in o["metadata"]["name"])
    green = sorted(o["metadata"]["name"] for o in objects if "green" in o["metadata"]["name"])
    assert [n.replace("blue", "green") for n in blue] == green
    assert len(blue) == len(objects) // 2
    api = find(objects, "Deployment", "blue-frontend")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in api["containers"][0]["env"]}
    assert env["REDIS_READ_HOST"] == "blue-redis"
    assert env["REDIS_WRITE_HOST"] == "blue-redis-write"


def test_fails_on_a_journal_name_too_long_for_its_objects(chart: cdk8s.Chart) -> None:
    with pytest.raises(ValueError, match=r"name='x{42}' is not allowed: .* at most 41"):
        JournalService(chart, "Journal", name="x" * 42)


def test_an_api_in_another_namespace_reaches_redis_by_its_namespaced_hosts(
    chart: cdk8s.Chart,
) -> None:
    redis = Redis(chart, "Redis")
    web = another_chart(chart, "web", "web")
    ApiFrontend(web, "Api", redis=redis, cluster_domain="cluster.local")
    env = find(synth(web), "Deployment", "frontend")["spec"]["template"]["spec"]["containers"][0]
    hosts = {e["name"]: e.get("value") for e in env["env"]}
    assert hosts["REDIS_READ_HOST"] == "redis.test.svc.cluster.local"
    assert hosts["REDIS_WRITE_HOST"] == "redis-write.test.svc.cluster.local"
    inbound = find(synth(chart), "NetworkPolicy", "redis-from-web-frontend")
    assert inbound["metadata"]["namespace"] == "test"
    assert inbound["spec"]["ingress"][0]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}},
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "frontend",
                    "app.kubernetes.io/part-of": "journal",
                }
            },
        }
    ]
    outbound = find(synth(web), "NetworkPolicy", "frontend-to-test-redis")
    assert outbound["metadata"]["namespace"] == "web"
    assert outbound["spec"]["egress"][0]["to"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "test"}
    }


def test_without_a_cluster_domain_the_hosts_end_in_svc(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis")
    ApiFrontend(another_chart(chart, "web", "web"), "Api", redis=redis)
    assert redis.hosts("web") == ("redis.test.svc", "redis-write.test.svc")
    assert redis.hosts("test") == ("redis", "redis-write")


def test_fails_to_wire_across_charts_when_one_has_no_namespace(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis")
    nowhere = another_chart(chart, "nowhere", None)
    with pytest.raises(ValueError, match=r"nowhere/Api has no namespace \(its chart sets none\)"):
        ApiFrontend(nowhere, "Api", redis=redis)


def test_a_route_can_be_added_to_a_built_journal(chart: cdk8s.Chart) -> None:
    journal = JournalService(chart, "Journal")
    admin = StaticSite(chart, "Admin", name="admin")
    assert journal.ingress is not None
    journal.ingress.route("/admin", admin)
    paths = find(synth(chart), "Ingress", "frontend-ingress")["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/admin", "/api", "/"]


def test_a_journal_without_its_ingress_leaves_the_edge_to_the_team(chart: cdk8s.Chart) -> None:
    journal = JournalService(chart, "Journal", with_ingress=False)
    assert journal.ingress is None
    objects = synth(chart)
    assert not [o for o in objects if o["kind"] == "Ingress"]
    own = PathIngress(chart, "Edge", name="edge")
    own.route("/", journal.static_site)
    own.route("/api", journal.api)
    paths = find(synth(chart), "Ingress", "edge")["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/api", "/"]


def test_fails_on_a_backend_that_lacks_a_service_naming_what_is_missing(
    chart: cdk8s.Chart,
) -> None:
    class PodsOnly:
        pod_labels: ClassVar[dict[str, str]] = {"app": "x"}

    ingress = PathIngress(chart, "Ingress")
    with pytest.raises(
        TypeError,
        match=r"is not a backend: it lacks service_name, service_port, container_port, a "
        r"construct scope",
    ):
        ingress.route("/", PodsOnly())


def test_pod_options_reach_every_tier(chart: cdk8s.Chart) -> None:
    options = PodOptions(
        env=[k8s.EnvVar(name="TEAM", value="a")],
        env_from=[k8s.EnvFromSource(secret_ref=k8s.SecretEnvSource(name="team-env"))],
        volumes=[k8s.Volume(name="certs", secret=k8s.SecretVolumeSource(secret_name="certs"))],
        volume_mounts=[k8s.VolumeMount(name="certs", mount_path="/certs", read_only=True)],
        sidecars=[k8s.Container(name="proxy", image="team/proxy:1.0")],
        init_containers=[k8s.Container(name="wait", image="team/wait:1.0")],
        tolerations=[k8s.Toleration(key="spot", operator="Exists")],
        node_selector={"pool": "web"},
        affinity=k8s.Affinity(
            node_affinity=k8s.NodeAffinity(
                required_during_scheduling_ignored_during_execution=k8s.NodeSelector(
                    node_selector_terms=[
                        k8s.NodeSelectorTerm(
                            match_expressions=[
                                k8s.NodeSelectorRequirement(key="zone", operator="In", values=["a"])
                            ]
                        )
                    ]
                )
            )
        ),
        topology_spread=[
            k8s.TopologySpreadConstraint(
                max_skew=2, topology_key="zone", when_unsatisfiable="DoNotSchedule"
            )
        ],
        labels={"team": "a"},
        annotations={"owner": "team-a"},
        service_account_name="journal",
        automount_service_account_token=True,
    )
    JournalService(chart, "Journal", frontend_pod=options, static_pod=options, redis_pod=options)
    objects = synth(chart)
    for kind, name in (
        ("Deployment", "frontend"),
        ("Deployment", "fileserver"),
        ("StatefulSet", "redis"),
    ):
        template = find(objects, kind, name)["spec"]["template"]
        spec = template["spec"]
        main, sidecar = spec["containers"]
        assert {"name": "TEAM", "value": "a"} in main["env"]
        assert main["envFrom"] == [{"secretRef": {"name": "team-env"}}]
        assert {"mountPath": "/certs", "name": "certs", "readOnly": True} in main["volumeMounts"]
        assert sidecar == {"image": "team/proxy:1.0", "name": "proxy"}
        assert spec["initContainers"] == [{"image": "team/wait:1.0", "name": "wait"}]
        assert {"name": "certs", "secret": {"secretName": "certs"}} in spec["volumes"]
        assert spec["tolerations"] == [{"key": "spot", "operator": "Exists"}]
        assert spec["nodeSelector"] == {"pool": "web"}
        assert "nodeAffinity" in spec["affinity"]
        assert spec["topologySpreadConstraints"] == [
            {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
        ]
        assert template["metadata"]["labels"]["team"] == "a"
        assert template["metadata"]["annotations"]["owner"] == "team-a"
        assert spec["serviceAccountName"] == "journal"
        assert spec["automountServiceAccountToken"] is True
        assert "team" not in find(objects, kind, name)["spec"]["selector"]["matchLabels"]


def test_limits_may_exceed_requests(chart: cdk8s.Chart) -> None:
    resources = Resources(cpu="250m", memory="256Mi", cpu_limit="1", memory_limit="1Gi")
    StaticSite(chart, "Static", resources=resources)
    container = find(synth(chart), "Deployment", "fileserver")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["resources"] == {
        "limits": {"cpu": "1", "memory": "1Gi"},
        "requests": {"cpu": "250m", "memory": "256Mi"},
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"memory": "512m"}, r"^memory='512m' is not allowed: expected a quantity of bytes"),
        ({"memory": "1Mi", "memory_limit": "2000000m"}, r"^memory_limit='2000000m' is not allowed"),
        ({"memory": "1e-3Gi"}, r"^memory='1e-3Gi' is not allowed"),
        ({"memory": "1048575"}, r"^memory='1048575' is not allowed: .* at least 1Mi"),
        ({"memory": "1023Ki"}, r"^memory='1023Ki' is not allowed"),
    ],
)
def test_fails_on_memory_that_is_not_whole_bytes_of_at_least_1mi(
    arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Resources(cpu="1", **arguments)


@pytest.mark.parametrize("storage", ["512m", "1", "100Ki", "1.5e-3Ti"])
def test_fails_on_storage_that_is_not_whole_bytes_of_at_least_1mi(
    chart: cdk8s.Chart, storage: str
) -> None:
    with pytest.raises(ValueError, match=rf"^storage='{storage}' is not allowed: expected a "):
        Redis(chart, "Redis", storage=storage)
    with pytest.raises(ValueError, match=rf"^quota storage='{storage}' is not allowed"):
        Quota(cpu="1", memory="1Gi", storage=storage, pods=1)
    with pytest.raises(ValueError, match=rf"^quota memory='{storage}' is not allowed"):
        Quota(cpu="1", memory=storage, storage="1Gi", pods=1)


def test_memory_and_storage_take_bytes_from_1mi_in_every_notation(chart: cdk8s.Chart) -> None:
    for memory in ("1Mi", "1048576", "1.5Mi", "0.5Gi", "2e6", "1.5E6", "2G"):
        Resources(cpu="250m", memory=memory)
    Redis(chart, "Redis", storage="1048576")
    claim = find(synth(chart), "StatefulSet", "redis")["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"] == {"storage": "1048576"}


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"labels": {"replicas": 3}}, TypeError, r"^labels: 'replicas': 3 is not allowed: .*"),
        ({"labels": {"on": True}}, TypeError, r"^labels: 'on': True is not allowed"),
        ({"annotations": {"n": 1}}, TypeError, r"^annotations: 'n': 1 is not allowed"),
        ({"node_selector": {"zone": None}}, TypeError, r"^node_selector: 'zone': None is not"),
        ({"labels": ["a"]}, TypeError, r"^labels=\['a'\] is not allowed: expected a mapping"),
        ({"labels": {"team": "a b"}}, ValueError, r"^labels: team='a b' is not allowed"),
        ({"labels": {"team": "x" * 64}}, ValueError, r"^labels: team='xxx.* is not allowed"),
        ({"labels": {"team": "-a"}}, ValueError, r"^labels: team='-a' is not allowed"),
        ({"labels": {"Bad_/x": "a"}}, ValueError, r"^labels: key 'Bad_/x' is not allowed"),
        ({"labels": {"a/b/c": "a"}}, ValueError, r"^labels: key 'a/b/c' is not allowed"),
        ({"labels": {"x" * 64: "a"}}, ValueError, r"^labels: key 'xxx.* is not allowed"),
        ({"annotations": {"a b": "x"}}, ValueError, r"^annotations: key 'a b' is not allowed"),
        ({"node_selector": {"zone": "a/b"}}, ValueError, r"^node_selector: zone='a/b' is not"),
    ],
)
def test_fails_on_labels_and_annotations_kubernetes_would_refuse(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        PodOptions(**options)  # type: ignore[arg-type]


def test_labels_and_annotations_take_what_kubernetes_takes(chart: cdk8s.Chart) -> None:
    options = PodOptions(
        labels={"team": "", "example.com/tier": "web_1.A", "T-1": "x"},
        annotations={"example.com/note": 'any text: {"json": true}', "empty": ""},
        node_selector={"kubernetes.io/arch": "amd64"},
    )
    StaticSite(chart, "Static", pod=options)
    metadata = find(synth(chart), "Deployment", "fileserver")["spec"]["template"]["metadata"]
    assert metadata["labels"]["example.com/tier"] == "web_1.A"
    assert metadata["annotations"]["example.com/note"] == 'any text: {"json": true}'


def test_pods_take_pull_secrets_a_priority_class_and_readiness_gates(chart: cdk8s.Chart) -> None:
    options = PodOptions(
        image_pull_secrets=["registry-a", "registry-b"],
        priority_class_name="journal-high",
        readiness_gates=[k8s.PodReadinessGate(condition_type="example.com/lb-ready")],
    )
    redis = Redis(chart, "Redis", pod=options)
    ApiFrontend(chart, "Api", redis=redis, pod=options)
    StaticSite(chart, "Static", pod=options)
    objects = synth(chart)
    for kind, name in (
        ("StatefulSet", "redis"),
        ("Deployment", "frontend"),
        ("Deployment", "fileserver"),
    ):
        spec = find(objects, kind, name)["spec"]["template"]["spec"]
        assert spec["imagePullSecrets"] == [{"name": "registry-a"}, {"name": "registry-b"}]
        assert spec["priorityClassName"] == "journal-high"
        assert spec["readinessGates"] == [{"conditionType": "example.com/lb-ready"}]
    plain = PodOptions()
    assert (plain.image_pull_secrets, plain.priority_class_name, plain.readiness_gates) == (
        (),
        None,
        (),
    )


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"image_pull_secrets": "registry"}, TypeError, r"^image_pull_secrets='registry' is not"),
        ({"image_pull_secrets": ["Reg"]}, ValueError, r"^image_pull_secrets entry='Reg' is not"),
        ({"priority_class_name": "High"}, ValueError, r"^priority_class_name='High' is not"),
        ({"readiness_gates": ["ready"]}, TypeError, r"^readiness_gates=\['ready'\] is not"),
    ],
)
def test_fails_on_bad_pull_secrets_priority_class_or_gates(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        PodOptions(**options)  # type: ignore[arg-type]


def test_fails_on_a_limit_below_its_request() -> None:
    with pytest.raises(
        ValueError, match=r"memory_limit='128Mi' is not allowed: expected at least the request"
    ):
        Resources(cpu="1", memory="256Mi", memory_limit="128Mi")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (PodOptions(env=[k8s.EnvVar(name="REDIS_PORT", value="1")]), r"env: 'REDIS_PORT'"),
        (PodOptions(volumes=[k8s.Volume(name="tmp")]), r"volumes: 'tmp'"),
        (PodOptions(sidecars=[k8s.Container(name="api")]), r"sidecars: 'api'"),
        (
            PodOptions(volume_mounts=[k8s.VolumeMount(name="x", mount_path="/tmp")]),
            r"volume_mounts: '/tmp'",
        ),
        (PodOptions(labels={"app.kubernetes.io/name": "x"}), r"labels: 'app.kubernetes.io/name'"),
    ],
)
def test_fails_on_an_option_that_clashes_with_the_workloads_own_names(
    chart: cdk8s.Chart, options: PodOptions, message: str
) -> None:
    with pytest.raises(ValueError, match=message + " is not allowed: the workload already uses it"):
        ApiFrontend(chart, "Api", redis=Redis(chart, "Redis"), pod=options)


def test_fails_on_an_option_of_the_wrong_type() -> None:
    with pytest.raises(
        TypeError, match=r"env=.* is not allowed: expected a sequence \(a list or tuple\) of k8s"
    ):
        PodOptions(env=[{"name": "X"}])  # type: ignore[list-item]


def test_fails_on_a_generator_of_options_rather_than_use_it_up() -> None:
    # Checking a generator's items would use them up: the pods would silently have none.
    with pytest.raises(TypeError, match=r"env=.* is not allowed: expected a sequence"):
        PodOptions(env=(k8s.EnvVar(name="X", value="1") for _ in range(1)))  # type: ignore[arg-type]


def test_a_misspelt_body_field_fails_when_the_struct_is_built() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'mount_pth'"):
        k8s.VolumeMount(name="x", mount_pth="/x")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("request_", "limit"),
    [("1P", "1E"), ("1Pi", "1Ei"), ("999", "1e3"), ("1.5e-3", "2m"), ("1E", "1.000001E")],
)
def test_limits_compare_exactly_in_every_suffix(request_: str, limit: str) -> None:
    Resources(cpu=request_, memory="1Gi", cpu_limit=limit)
    with pytest.raises(ValueError, match="expected at least the request"):
        Resources(cpu=limit, memory="1Gi", cpu_limit=request_)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda c: JournalService(c, "J", tls={"secret_name": "x"}, host="a.example.com"),
            "tls={'secret_name': 'x'} is not allowed: expected journal_k8s.IngressTls",
        ),
        (
            lambda c: ApiFrontend(c, "Api", redis="redis"),
            "redis='redis' is not allowed: expected journal_k8s.Redis",
        ),
        (
            lambda c: JournalService(c, "J", edge="gateway"),
            "edge='gateway' is not allowed: expected journal_k8s.PathRoute",
        ),
        (
            lambda c: Failover(proxy_resources=None),
            "failover proxy_resources=None is not allowed: expected journal_k8s.Resources",
        ),
    ],
    ids=["tls", "redis", "edge", "proxy-resources"],
)
def test_fails_on_an_argument_of_the_wrong_type_naming_it(
    chart: cdk8s.Chart, build: Any, message: str
) -> None:
    # Each used to end in an AttributeError deep inside the construct (or, for None, later).
    with pytest.raises(TypeError, match=re.escape(message)):
        build(chart)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda c: Redis(c, "R", name="r" * 50, failover=Failover(), metrics=Metrics()),
            "it names the metrics Service 'r.*, 64 characters where at most 63 are allowed; "
            "expected a name of at most 49 characters",
        ),
        (
            lambda c: StaticSite(c, "S", name="s" * 56, metrics=Metrics()),
            "expected a name of at most 55 characters",
        ),
        (
            lambda c: PathIngress(c, "I", name="i" * 64),
            "it names the value of the label app.kubernetes.io/name ",
        ),
        (
            lambda c: Redis(c, "R", name="r" * 52).allow_from(
                kplus.Deployment(
                    c,
                    "W",
                    metadata=cdk8s.ApiObjectMetadata(name="w" * 220),
                    containers=[kplus.ContainerProps(image="team/w:1.0")],
                )
            ),
            "the NetworkPolicy name='r.* is not allowed: expected a DNS-1123 subdomain of at "
            "most 253",
        ),
    ],
    ids=["redis-proxy-metrics", "static-metrics", "ingress-label", "policy"],
)
def test_fails_on_a_name_too_long_for_a_name_it_makes(
    chart: cdk8s.Chart, build: Any, message: str
) -> None:
    # Each used to reach the API server (or a label error at synth that named no argument).
    with pytest.raises(ValueError, match=message):
        build(chart)


def test_pod_options_refuse_a_volume_the_pod_would_not_have(chart: cdk8s.Chart) -> None:
    """A mount of a volume the pod lacks, or a volume named like Redis's claim template
    (``data``), is refused at construction: the API server would refuse every pod."""
    scratch = k8s.Volume(name="scratch", empty_dir=k8s.EmptyDirVolumeSource())
    with pytest.raises(ValueError, match="pod volumes: 'data' is not allowed") as clash:
        Redis(
            chart, "Clash", name="clash", pod=PodOptions(volumes=[scratch, _named(scratch, "data")])
        )
    assert "its own: ['config', 'data', 'password', 'run']" in str(clash.value)
    missing = k8s.VolumeMount(name="nowhere", mount_path="/nowhere")
    with pytest.raises(
        ValueError, match=r"^pod volume_mounts: 'nowhere' is not allowed"
    ) as unknown:
        StaticSite(chart, "Static", pod=PodOptions(volumes=[scratch], volume_mounts=[missing]))
    assert "the pod has no such volume (expected one of [" in str(unknown.value)
    assert "'scratch'" in str(unknown.value)
    sidecar = k8s.Container(name="log-shipper", image="busybox:1.36", volume_mounts=[missing])
    with pytest.raises(
        ValueError, match=r"^frontend_pod sidecars: 'log-shipper' mounts 'nowhere', which"
    ):
        JournalService(chart, "Journal", name="j", frontend_pod=PodOptions(sidecars=[sidecar]))
    mounted = k8s.VolumeMount(name="scratch", mount_path="/scratch")
    StaticSite(
        chart, "Fine", name="fine", pod=PodOptions(volumes=[scratch], volume_mounts=[mounted])
    )


def _named(volume: k8s.Volume, name: str) -> k8s.Volume:
    return k8s.Volume(**{**volume._values, "name": name})
