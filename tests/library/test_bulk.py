"""The library's jsii bridge: many ApiObjects per round trip, read back as ``Chart.to_json``."""

from __future__ import annotations

import re

import cdk8s
import pytest
from cdk8s_plus_27 import k8s
from constructs import Construct

import app
from journal_k8s import Failover, JournalService, Metrics, PathRoute, Redis, chart_manifests
from journal_k8s._bulk import define
from journal_tools.values import load_environments
from support import ROOT


def config_map(name: str, **data: str) -> k8s.KubeConfigMapProps:
    return k8s.KubeConfigMapProps(metadata=k8s.ObjectMeta(name=name), data=data)


def test_defines_api_objects_that_chart_labels_namespaces_and_patches_reach(
    chart: cdk8s.Chart,
) -> None:
    group = Construct(chart, "Group")
    define(group, {"First": config_map("first", a="1"), "Second": config_map("second")})
    define(
        group,
        {},
        [
            ("First", {"op": "add", "path": "/data/b", "value": "2"}),
            ("Second", {"op": "remove", "path": "/metadata/namespace"}),
        ],
    )
    first = group.node.find_child("First")
    assert cdk8s.ApiObject.is_api_object(first)
    cdk8s.ApiObject.of(first).add_json_patch(cdk8s.JsonPatch.add("/data/c", "3"))
    assert chart_manifests(chart) == [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "first", "namespace": "test"},
            "data": {"a": "1", "b": "2", "c": "3"},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "second"}, "data": {}},
    ]


def test_an_unsupported_patch_is_refused_by_name(chart: cdk8s.Chart) -> None:
    define(chart, {"Map": config_map("map")})
    with pytest.raises(RuntimeError, match='JSON patch operation "move" is not supported'):
        define(chart, {}, [("Map", {"op": "move", "from": "/data", "path": "/x"})])


def test_an_add_without_a_value_is_refused(chart: cdk8s.Chart) -> None:
    define(chart, {"Map": config_map("map")})
    with pytest.raises(RuntimeError, match='JSON patch "add" at "/data/x" has no value'):
        define(chart, {}, [("Map", {"op": "add", "path": "/data/x"})])


def test_a_duplicate_construct_id_is_refused(chart: cdk8s.Chart) -> None:
    define(chart, {"Map": config_map("map")})
    with pytest.raises(RuntimeError, match="There is already a Construct with name 'Map'"):
        define(chart, {"Map": config_map("other")})


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_reads_back_exactly_what_chart_to_json_renders(environment: str) -> None:
    (values,) = [e for e in load_environments(ROOT / "environments") if e.name == environment]
    chart = app.build(cdk8s.App(), values)
    assert chart_manifests(chart) == chart.to_json()


def test_an_object_changed_after_a_read_back_is_read_again_with_the_change(
    chart: cdk8s.Chart,
) -> None:
    """The read-back reuses the manifests its validation read (see ``Manifests.render``) for
    that read-back only."""
    define(chart, {"Map": config_map("map", a="1")})
    assert chart_manifests(chart)[0]["data"] == {"a": "1"}
    api_object = cdk8s.ApiObject.of(chart.node.find_child("Map"))
    api_object.add_json_patch(cdk8s.JsonPatch.add("/data/b", "2"))
    assert chart_manifests(chart)[0]["data"] == {"a": "1", "b": "2"}
    assert api_object.to_json()["data"] == {"a": "1", "b": "2"}


class _Overridden(cdk8s.ApiObject):
    """An ApiObject whose ``to_json`` is a Python override (jsii defines it on the instance)."""

    def to_json(self) -> object:
        manifest = super().to_json()
        return {**manifest, "data": {**manifest["data"], "overridden": "yes"}}


def test_an_object_with_a_python_to_json_override_is_read_back_through_it(
    chart: cdk8s.Chart,
) -> None:
    define(chart, {"Map": config_map("map", a="1")})
    _Overridden(chart, "Own", api_version="v1", kind="ConfigMap", metadata={"name": "own"})
    _Overridden.of(chart.node.find_child("Own")).add_json_patch(
        cdk8s.JsonPatch.add("/data", {"b": "2"})
    )
    for _ in range(2):
        manifests = chart_manifests(chart)
        assert [m["data"] for m in manifests] == [{"a": "1"}, {"b": "2", "overridden": "yes"}]
    assert manifests == chart.to_json()


def test_reads_back_a_chart_without_journal_constructs() -> None:
    """No library validation ran in that app: every manifest comes back whole."""
    chart = cdk8s.Chart(cdk8s.Testing.app(), "plain")
    k8s.KubeConfigMap(chart, "Map", metadata=k8s.ObjectMeta(name="map"), data={"a": "1"})
    assert chart_manifests(chart) == chart.to_json()
    assert chart_manifests(chart)[0]["data"] == {"a": "1"}


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every request this test sends to the jsii kernel."""
    from jsii._kernel.providers import process  # the runtime's one channel to Node

    sent: list[object] = []
    send = process._NodeProcess.send

    def counting_send(self: object, request: object, response_type: object) -> object:
        sent.append(request)
        return send(self, request, response_type)  # type: ignore[arg-type]

    monkeypatch.setattr(process._NodeProcess, "send", counting_send)
    return sent


def test_a_construct_is_two_round_trips_whatever_its_object_count(
    chart: cdk8s.Chart, round_trips: list[object]
) -> None:
    Redis(chart, "Redis")
    assert len(round_trips) == 2  # the construct, then its 8 objects in one batch
    assert len(chart_manifests(chart)) == 8


@pytest.fixture
def warm(chart: cdk8s.Chart) -> None:
    """Quantity and IntOrString values are made once per process: make this stack's first."""
    warm = cdk8s.Chart(chart.node.scope, "warm", namespace="warm")  # type: ignore[arg-type]
    JournalService(warm, "Journal", host="warm.example.com")  # its own host: no shared route


@pytest.mark.usefixtures("warm")
def test_a_journal_stack_is_sixteen_round_trips(
    chart: cdk8s.Chart, round_trips: list[object]
) -> None:
    """What `make bench` measures per stack: 5 constructs, 1 object batch for each of Redis,
    the API, the API's Redis policies (its namespace and Redis's, in one batch), the static
    site, the Ingress and its 2 routes; then 1 read-back, in which cdk8s's call of the
    validation sends the app's final manifests to the library's rules (1 answer) and each
    Ingress's paths are rendered from its routes (1 answer each: this stack's and the warm
    one's); the read-back reuses the manifests the validation sent. Namespaces come back with
    the batches; the API shares Redis's (same parent), so no look-up is needed."""
    JournalService(chart, "Journal")
    assert len(round_trips) == 12
    assert len(chart_manifests(chart)) == 21
    assert len(round_trips) == 16


@pytest.mark.usefixtures("warm")
def test_a_journal_stack_on_a_gateway_costs_the_same_round_trips(
    chart: cdk8s.Chart, round_trips: list[object]
) -> None:
    """The HTTPRoute is built from the generated Gateway API structs in Python: no request."""
    route = PathRoute(chart, "Route", gateway_name="shared", gateway_namespace="gateways")
    JournalService(chart, "Journal", edge=route)
    assert len(chart_manifests(chart)) == 21  # the HTTPRoute and 2 policies for the Ingress's
    assert len(round_trips) == 16


def test_every_quantity_is_written_as_the_api_server_stores_it_a_callers_too() -> None:
    """Arguments (Resources, Quota, storage) and a caller's own ``k8s.Quantity`` objects."""
    from journal_k8s import ApiFrontend, PodOptions, Quota, Resources, RestrictedNamespace

    guarded = cdk8s.Chart(cdk8s.App(), "q", namespace="q", disable_resource_name_hashes=True)
    RestrictedNamespace(
        guarded, "Ns", name="q", quota=Quota(cpu="2000m", memory="1.5Gi", storage="0.5Ti", pods=7)
    )
    chart = cdk8s.Chart(cdk8s.App(), "c", namespace="n", disable_resource_name_hashes=True)
    redis = Redis(chart, "Redis", storage="1024Mi")
    sidecar = k8s.Container(
        name="side",
        image="busybox:1.36",
        resources=k8s.ResourceRequirements(
            requests={
                "cpu": k8s.Quantity.from_string("0.5"),
                "memory": k8s.Quantity.from_number(2048),
            },
            limits={
                "cpu": k8s.Quantity.from_number(0.75),
                "memory": k8s.Quantity.from_string("2Ki"),
            },
        ),
    )
    ApiFrontend(
        chart,
        "Api",
        redis=redis,
        resources=Resources(cpu="0.5", memory="1024Mi"),
        pod=PodOptions(sidecars=[sidecar]),
    )
    objects = chart_manifests(chart)
    hard = next(o for o in chart_manifests(guarded) if o["kind"] == "ResourceQuota")["spec"]["hard"]
    assert {
        k: hard[k] for k in ("requests.cpu", "requests.memory", "requests.storage", "pods")
    } == {
        "requests.cpu": "2",
        "requests.memory": "1536Mi",
        "requests.storage": "512Gi",
        "pods": "7",
    }
    claim = next(o for o in objects if o["kind"] == "StatefulSet")["spec"]["volumeClaimTemplates"][
        0
    ]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    api, side = deployment["spec"]["template"]["spec"]["containers"]
    assert api["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert side["resources"] == {
        "requests": {"cpu": "500m", "memory": "2048"},
        "limits": {"cpu": "750m", "memory": "2Ki"},
    }


def test_one_seam_per_dependency() -> None:
    """One library module imports cdk8s-plus; the assembly names its version in package.json
    only (its code finds the package there, its tarball's .jsii copies the dependencies)."""
    library = ROOT / "constructs" / "journal_k8s"
    importers = sorted(
        path.name
        for path in library.glob("*.py")
        if re.search(r"^\s*(import|from) cdk8s_plus_\d+", path.read_text(), re.M)
    )
    assert importers == ["_kplus.py"]
    assembly = library / "_jsii" / "assembly"
    assert not re.search(r"cdk8s-plus-\d", (assembly / "src" / "index.ts").read_text())
    assert "cdk8s-plus-27" in (assembly / "package.json").read_text()


def test_every_object_is_an_instance_of_its_l1_or_crd_class(chart: cdk8s.Chart) -> None:
    """The transport creates real k8s.Kube<Kind> and Gateway API objects, in one call each."""
    from journal_k8s import _gateway

    route = PathRoute(chart, "Route", gateway_name="shared", gateway_namespace="gateways")
    journal = JournalService(chart, "Journal", edge=route)
    assert isinstance(journal.redis.stateful_set, k8s.KubeStatefulSet)
    assert isinstance(journal.redis.config_map, k8s.KubeConfigMap)
    assert isinstance(journal.api.deployment, k8s.KubeDeployment)
    assert isinstance(route.http_route, _gateway.HttpRoute)
    kinds = {type(child).__name__ for child in journal.redis.node.children}
    assert kinds == {
        "KubeConfigMap",
        "KubeService",
        "KubeStatefulSet",
        "KubePodDisruptionBudget",
        "KubeNetworkPolicy",
    }


def test_a_patch_on_an_l1_child_applies_to_the_final_manifest(chart: cdk8s.Chart) -> None:
    """Unlike the generated toJson (which renders props after the patches and drops a patched
    quantity), a journal object's patches apply to its final manifest."""
    redis = Redis(chart, "Redis")
    redis.stateful_set.add_json_patch(
        cdk8s.JsonPatch.add("/spec/template/spec/containers/0/resources/limits/cpu", "2")
    )
    (stateful_set,) = [o for o in chart_manifests(chart) if o["kind"] == "StatefulSet"]
    resources = stateful_set["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"] == {"cpu": "2", "memory": "512Mi"}


def test_metrics_cost_no_round_trip(chart: cdk8s.Chart, round_trips: list[object]) -> None:
    """A tier's metrics objects (Service, ServiceMonitor, alerts, policy) travel in its batch:
    the namespace its alerts name is the one its scope's first batch returned, and a construct
    path is asked for only to word an error. (Each kind of journal is built once before it is
    counted: Quantity and IntOrString values are made once per process.)"""
    counts = []
    for index, metrics in enumerate([None, Metrics(), None, Metrics()]):
        scope = cdk8s.Chart(chart.node.scope, f"n{index}", namespace=f"n{index}")  # type: ignore[arg-type]
        round_trips.clear()
        JournalService(
            scope,
            "Journal",
            redis_failover=Failover(),
            metrics=metrics,
            frontend_metrics_port=None if metrics is None else 9090,
            host=f"n{index}.example.com",
        )
        counts.append(len(round_trips))
    assert counts[2] == counts[3]
