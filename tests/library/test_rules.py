"""The library's rules over the final manifests: after every JSON patch, in every synth entry."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import cdk8s
import cdk8s_plus_27 as kplus
import pytest

import app
from journal_k8s import JournalService, rules
from journal_tools import synth as project_synth
from journal_tools.values import Environment
from support import ROOT, failures, restricted_namespace, synth


def rename(construct: object, name: str) -> None:
    """A user's JSON patch that renames the object of ``construct``."""
    cdk8s.ApiObject.of(construct).add_json_patch(cdk8s.JsonPatch.replace("/metadata/name", name))  # type: ignore[arg-type]


def test_fails_on_a_service_renamed_by_patch_to_a_name_taken(chart: cdk8s.Chart) -> None:
    journal = JournalService(chart, "Journal")
    rename(journal.static_site.service, "frontend")
    assert (
        "[test/Journal/Static/Service/Resource] Service test/frontend: metadata.name: 'frontend' "
        "is defined twice: expected one object per API group, kind, namespace and name; give one "
        "of them another name (the other: test/Journal/Api/Service/Resource)"
    ) in failures(chart)


def test_fails_on_a_route_to_a_service_renamed_by_patch(chart: cdk8s.Chart) -> None:
    journal = JournalService(chart, "Journal")
    rename(journal.api.service, "api")
    assert failures(chart) == [
        "[test/Journal/Ingress/Resource] Ingress test/frontend-ingress: "
        "spec.rules[0].http.paths[0].backend.service.name: 'frontend' is not a Service of this "
        "synth in namespace 'test': expected one of ['api', 'fileserver', 'redis', "
        "'redis-headless', 'redis-write']"
    ]


def test_fails_on_a_pod_made_unrestricted_by_patch(chart: cdk8s.Chart) -> None:
    restricted_namespace(chart)
    journal = JournalService(chart, "Journal")
    journal.api.deployment.add_json_patch(
        cdk8s.JsonPatch.replace(
            "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation", True
        )
    )
    assert failures(chart) == [
        "[test/Journal/Api/Deployment] Deployment test/frontend: spec.template.spec."
        "containers[0].securityContext.allowPrivilegeEscalation: True is not allowed (Pod "
        "Security Standard 'restricted'): expected false in namespace 'test' (security_context="
        "restricted_container_security() gives a sidecar or init container the restricted "
        "settings, adopt_restricted a cdk8s-plus workload)"
    ]


def test_fails_on_a_label_value_patched_to_a_number(chart: cdk8s.Chart) -> None:
    journal = JournalService(chart, "Journal")
    journal.redis.config_map.add_json_patch(cdk8s.JsonPatch.add("/metadata/labels/tier", 3))
    assert failures(chart) == [
        "[test/Journal/Redis/Config] ConfigMap test/redis-config: metadata.labels['tier']: the "
        "label value 3 is not allowed: expected a string of at most 63 characters "
        "(alphanumerics, '-', '_', '.', starting and ending with an alphanumeric)"
    ]


def test_sees_the_changes_of_every_chart(chart: cdk8s.Chart) -> None:
    """A patch in another chart of the app, made after this chart's constructs, counts too."""
    JournalService(chart, "Journal")
    other = cdk8s.Chart(chart.node.scope, "other", namespace="test")  # type: ignore[arg-type]
    service = kplus.Service(other, "Web", ports=[kplus.ServicePort(port=80)])
    rename(service, "fileserver")
    assert failures(chart) == [
        "[other/Web/Resource] Service test/fileserver: metadata.name: 'fileserver' is defined "
        "twice: expected one object per API group, kind, namespace and name; give one of them "
        "another name (the other: test/Journal/Static/Service/Resource)"
    ]


def test_a_teams_own_ingress_may_route_outside_the_synth(chart: cdk8s.Chart) -> None:
    """Only the routes the journal constructs make must reach a Service of the synth."""
    JournalService(chart, "Journal")
    outside = cdk8s.ApiObject(
        chart,
        "Outside",
        api_version="networking.k8s.io/v1",
        kind="Ingress",
        metadata=cdk8s.ApiObjectMetadata(name="outside"),
    )
    backend = {"service": {"name": "elsewhere", "port": {"number": 80}}}
    outside.add_json_patch(cdk8s.JsonPatch.add("/spec", {"defaultBackend": backend}))
    assert len(synth(chart)) == 22


def break_by_patch(chart: cdk8s.Chart) -> None:
    """A user's patch that leaves two Services named ``frontend`` in the chart."""
    journal = chart.node.find_child("Journal")
    assert isinstance(journal, JournalService)
    rename(journal.static_site.service, "frontend")


EXPECTED = (
    "[{env}/Journal/Static/Service/Resource] Service journal-{env}/frontend: metadata.name: "
    "'frontend' is defined twice"
)


@pytest.mark.parametrize(
    "entry",
    [
        lambda chart: cdk8s.Testing.synth(chart),
        lambda chart: chart.node.scope.synth(),
        lambda chart: chart.to_json(),
    ],
    ids=["Testing.synth", "app.synth", "Chart.to_json"],
)
def test_one_line_per_problem_in_every_synth_entry(
    entry: Callable[[cdk8s.Chart], object], tmp_path: Path
) -> None:
    chart = cdk8s.Chart(cdk8s.App(outdir=str(tmp_path)), "dev", namespace="journal-dev")
    JournalService(chart, "Journal")
    break_by_patch(chart)
    with pytest.raises(RuntimeError) as failure:
        entry(chart)
    header, *lines = str(failure.value).splitlines()
    assert header == "Error: Validation failed with the following errors:"
    assert [line.split("]")[0] for line in lines] == [
        "  [dev/Journal/Static/Service/Resource",  # the Service named twice
        "  [dev/Journal/Ingress/Resource",  # /api: the last "frontend" lacks port 8080
        "  [dev/Journal/Ingress/Resource",  # /: "fileserver" is no more
    ]


def broken_build(cluster_app: cdk8s.App, environment: Environment) -> cdk8s.Chart:
    """app.build, then a user's patch that breaks a rule."""
    chart = app.build(cluster_app, environment)
    break_by_patch(chart)
    return chart


def test_the_project_synth_prints_each_problem_without_a_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    arguments = ["--environments", str(tmp_path / "environments"), "--outdir", str(tmp_path)]
    assert project_synth.main(broken_build, arguments) == 1
    stderr = capsys.readouterr().err
    assert EXPECTED.format(env="dev") in stderr
    assert "environment 'dev' (" in stderr and "3 problem(s):" in stderr
    assert "Traceback" not in stderr and "    at " not in stderr and "Error:" not in stderr


def test_the_rules_are_the_checks_rules() -> None:
    """The project's checks run the library's rules, not copies of them."""
    from journal_tools import checks

    source = Path(checks.__file__).read_text()
    for rule in rules.LIBRARY_RULES:
        if rule not in (rules.restricted, rules.routed):
            assert f"rules.{rule.__name__}(objects)" in source
    assert "rules.pod_security(objects)" in source


def test_label_maps_are_found_in_any_mapping_and_list() -> None:
    """The label-map walk goes into every map (a dict or another Mapping) and list, and only
    there: a string, a number or a null is a leaf."""
    from types import MappingProxyType

    class Items(list[object]):
        pass

    template = MappingProxyType({"metadata": {"labels": {"a": "1"}}, "spec": "metadata"})
    obj = {
        "kind": "Deployment",
        "metadata": {"labels": {"b": 2}, "name": "x"},
        "spec": {
            "selector": {"matchLabels": {"c": "3"}},
            "template": template,
            "volumes": Items([None, 4, {"metadata": {"labels": {"d": "4"}}}]),
            "replicas": 1,
            "paused": False,
        },
    }
    assert [path for path, _ in rules.label_maps(obj)] == [
        "metadata.labels",
        "spec.selector.matchLabels",
        "spec.template.metadata.labels",
        "spec.volumes[2].metadata.labels",
    ]
    assert [p.field for p in rules.labels([obj])] == ["metadata.labels['b']"]


@pytest.mark.parametrize(
    ("message", "argument"),
    [
        ("replicas=0 is not allowed: expected an integer >= 1", "replicas"),
        ("failover quorum=0 is not allowed: expected an integer >= 1", "failover quorum"),
        ("tls is not allowed without host: expected both", "tls"),
        ("metrics prometheus_labels: key 'a b' is not allowed: …", "metrics prometheus_labels"),
        ("pod env: 'X' is not allowed: …", "pod env"),
        ("the label key 'a b' is not allowed: …", None),
        ("Expected a string", None),
    ],
)
def test_the_argument_an_error_names_first(message: str, argument: str | None) -> None:
    """``argument_of`` reads back what ``refused`` and the constructs write first."""
    assert rules.argument_of(message) == argument
    if argument is not None:
        assert rules.argument_of(str(rules.refused(argument, 0, "x"))) == argument


def test_two_journals_routing_one_host_and_path_fail_the_synth() -> None:
    """Two Ingresses of one class on the same host and path: the controller serves one of
    them only. Another host, or another class, is no conflict."""
    app = cdk8s.Testing.app()
    blue = cdk8s.Chart(app, "blue", namespace="blue", disable_resource_name_hashes=True)
    green = cdk8s.Chart(app, "green", namespace="green", disable_resource_name_hashes=True)
    JournalService(blue, "Journal", host="journal.example.com")
    JournalService(green, "Journal", host="journal.example.com")
    with pytest.raises(RuntimeError) as failure:
        app.synth()
    assert [line.strip() for line in str(failure.value).splitlines()[1:]] == [
        f"[green/Journal/Ingress/Resource] Ingress green/frontend-ingress: spec.rules[0].http."
        f"paths[{index}]: host 'journal.example.com' path {path!r} is also routed by Ingress "
        "blue/frontend-ingress: expected each host and path routed once per ingress class or "
        "Gateway listener (the other: blue/Journal/Ingress/Resource)"
        for index, path in enumerate(["/api", "/"])
    ]
    app = cdk8s.Testing.app()
    for name, arguments in (("a", {"host": "a.example.com"}), ("b", {"ingress_class": "other"})):
        chart = cdk8s.Chart(app, name, namespace=name, disable_resource_name_hashes=True)
        JournalService(chart, "Journal", **arguments)  # type: ignore[arg-type]
    app.synth()
