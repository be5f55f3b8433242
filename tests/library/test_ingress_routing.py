"""Where the synthesized Ingress sends requests, by the ``networking.k8s.io/v1`` matching rules."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import cdk8s
import pytest

from journal_k8s import ApiFrontend, JournalService, PathIngress, Redis, StaticSite
from support import find, synth

Path = Mapping[str, Any]
"""One ``HTTPIngressPath`` of a synthesized Ingress."""


def _elements(path: str) -> list[str]:
    """The ``/``-separated elements of a path, a trailing slash ignored (``/`` is ``[""]``)."""
    return path.rstrip("/").split("/")


def path_matches(path_type: str, path: str, request: str) -> bool:
    """Whether an Ingress path of ``path_type`` matches the request path ``request``.

    ``Exact`` compares the whole path, case-sensitively. ``Prefix`` compares element by
    element: every element of ``path`` must equal the request's element at the same place,
    so ``/aaa/bbb`` matches ``/aaa/bbb/ccc`` but not ``/aaa/bbbxyz``, and ``/`` matches all.
    """
    if path_type == "Exact":
        return request == path
    if path_type == "Prefix":
        wanted = _elements(path)
        return _elements(request)[: len(wanted)] == wanted
    raise ValueError(f"pathType={path_type!r} has no portable meaning")


def select(paths: Sequence[Path], request: str) -> Path | None:
    """The path a conformant controller picks: the longest match, ``Exact`` before ``Prefix``."""
    matching = [p for p in paths if path_matches(p["pathType"], p["path"], request)]
    if not matching:
        return None
    return max(matching, key=lambda p: (len(p["path"].rstrip("/")), p["pathType"] == "Exact"))


def select_first(paths: Sequence[Path], request: str) -> Path | None:
    """The path a controller that follows manifest order picks: the first match."""
    return next((p for p in paths if path_matches(p["pathType"], p["path"], request)), None)


def _paths(path_types_and_paths: Sequence[tuple[str, str]]) -> list[Path]:
    return [
        {"path": path, "pathType": path_type, "backend": f"{path_type}:{path}"}
        for path_type, path in path_types_and_paths
    ]


# The examples table of https://kubernetes.io/docs/concepts/services-networking/ingress/#examples
SPEC_EXAMPLES: list[tuple[str, str, str, bool]] = [
    ("Prefix", "/", "/", True),
    ("Prefix", "/", "/anything/at/all", True),
    ("Exact", "/foo", "/foo", True),
    ("Exact", "/foo", "/bar", False),
    ("Exact", "/foo", "/foo/", False),
    ("Exact", "/foo/", "/foo", False),
    ("Prefix", "/foo", "/foo", True),
    ("Prefix", "/foo", "/foo/", True),
    ("Prefix", "/foo/", "/foo", True),
    ("Prefix", "/foo/", "/foo/", True),
    ("Prefix", "/aaa/bb", "/aaa/bbb", False),
    ("Prefix", "/aaa/bbb", "/aaa/bbb", True),
    ("Prefix", "/aaa/bbb/", "/aaa/bbb", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbb/", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbb/ccc", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbbxyz", False),
    ("Prefix", "/aaa", "/ccc", False),
    ("Prefix", "/foo/bar", "/foo/bar/baz", True),
    ("Prefix", "/foo/bar", "/foo/barbaz", False),
    ("Prefix", "/Foo", "/foo", False),
]


@pytest.mark.parametrize(("path_type", "path", "request_path", "expected"), SPEC_EXAMPLES)
def test_matcher_follows_the_spec_examples(
    path_type: str, path: str, request_path: str, expected: bool
) -> None:
    assert path_matches(path_type, path, request_path) is expected


@pytest.mark.parametrize(
    ("paths", "request_path", "winner"),
    [
        ([("Prefix", "/"), ("Prefix", "/aaa")], "/aaa/ccc", "/aaa"),
        ([("Prefix", "/"), ("Prefix", "/aaa"), ("Prefix", "/aaa/bbb")], "/aaa/bbb", "/aaa/bbb"),
        ([("Prefix", "/"), ("Prefix", "/aaa"), ("Prefix", "/aaa/bbb")], "/ccc", "/"),
        ([("Prefix", "/aaa/bbb"), ("Prefix", "/aaa"), ("Prefix", "/")], "/aaa/bbbxyz", "/aaa"),
    ],
)
def test_longest_matching_path_wins_whatever_the_order(
    paths: list[tuple[str, str]], request_path: str, winner: str
) -> None:
    for ordered in (paths, paths[::-1]):
        chosen = select(_paths(ordered), request_path)
        assert chosen is not None and chosen["path"] == winner


def test_exact_beats_prefix_of_equal_length() -> None:
    for ordered in (
        [("Prefix", "/foo"), ("Exact", "/foo")],
        [("Exact", "/foo"), ("Prefix", "/foo")],
    ):
        chosen = select(_paths(ordered), "/foo")
        assert chosen is not None and chosen["pathType"] == "Exact"
        prefix_only = select(_paths(ordered), "/foo/bar")
        assert prefix_only is not None and prefix_only["pathType"] == "Prefix"


def test_no_match_uses_the_default_backend() -> None:
    assert select(_paths([("Prefix", "/aaa")]), "/ccc") is None
    assert select(_paths([("Exact", "/aaa")]), "/aaa/") is None


def test_matcher_rejects_implementation_specific() -> None:
    with pytest.raises(ValueError, match="ImplementationSpecific"):
        path_matches("ImplementationSpecific", "/", "/")


# The synthesized journal Ingress ------------------------------------------------------


@pytest.fixture
def journal(chart: cdk8s.Chart) -> tuple[JournalService, list[dict[str, Any]]]:
    """The chapter's JournalService and its manifests."""
    service = JournalService(chart, "Journal")
    return service, synth(chart)


def _ingress_paths(objects: list[dict[str, Any]]) -> list[Path]:
    ingress = find(objects, "Ingress", "frontend-ingress")
    rules = ingress["spec"]["rules"]
    assert len(rules) == 1 and "host" not in rules[0], "expected one rule for every host"
    assert "defaultBackend" not in ingress["spec"]
    paths: list[Path] = rules[0]["http"]["paths"]
    return paths


def test_api_is_emitted_before_root_and_every_path_is_prefix(
    journal: tuple[JournalService, list[dict[str, Any]]],
) -> None:
    paths = _ingress_paths(journal[1])
    assert [p["path"] for p in paths] == ["/api", "/"]
    assert all(p["pathType"] == "Prefix" for p in paths)


@pytest.mark.parametrize(
    ("request_path", "tier"),
    [
        ("/api", "api"),
        ("/api/", "api"),
        ("/api/entries", "api"),
        ("/api/entries/42", "api"),
        ("/", "static"),
        ("/index.html", "static"),
        ("/apix", "static"),
        ("/apiary/api", "static"),
        ("/static/api", "static"),
        ("/API", "static"),
    ],
)
def test_requests_reach_the_right_service(
    journal: tuple[JournalService, list[dict[str, Any]]], request_path: str, tier: str
) -> None:
    service, objects = journal
    backend = service.api if tier == "api" else service.static_site
    paths = _ingress_paths(objects)
    expected = {"service": {"name": backend.service_name, "port": {"number": backend.service_port}}}
    for chosen in (select(paths, request_path), select_first(paths, request_path)):
        assert chosen is not None, f"{request_path} reaches no backend"
        assert chosen["backend"] == expected
    target = find(objects, "Service", backend.service_name)
    assert backend.service_port in [port["port"] for port in target["spec"]["ports"]]


# PathIngress.route refuses what a controller would route differently ----------------------


def _backends(chart: cdk8s.Chart) -> tuple[ApiFrontend, StaticSite]:
    return ApiFrontend(chart, "Api", redis=Redis(chart, "Redis")), StaticSite(chart, "Static")


def test_fails_on_duplicate_path(chart: cdk8s.Chart) -> None:
    api, site = _backends(chart)
    ingress = PathIngress(chart, "Ingress")
    ingress.route("/api", api)
    with pytest.raises(ValueError, match=r"path='/api' is routed twice"):
        ingress.route("/api", site)


@pytest.mark.parametrize("order", list(itertools.permutations(["/", "/api", "/api/v1", "/apix"])))
def test_routes_in_any_order_give_one_ingress_most_specific_first(
    chart: cdk8s.Chart, order: tuple[str, ...]
) -> None:
    api, site = _backends(chart)
    ingress = PathIngress(chart, "Ingress")
    for path in order:
        ingress.route(path, site if path in ("/", "/apix") else api)
    paths = [p["path"] for p in _ingress_paths(synth(chart))]
    assert paths == ["/api/v1", "/api", "/apix", "/"]
    assert paths.index("/api") < paths.index("/")  # / never swallows /api
    assert ingress.paths == tuple(paths)


def test_fails_on_path_equal_to_a_routed_one_but_for_a_trailing_slash(chart: cdk8s.Chart) -> None:
    api, site = _backends(chart)
    ingress = PathIngress(chart, "Ingress")
    ingress.route("/api", api)
    with pytest.raises(ValueError, match=r"path='/api/' is routed twice"):
        ingress.route("/api/", site)
    assert ingress.paths == ("/api",)


def test_fails_on_backend_in_another_namespace(chart: cdk8s.Chart) -> None:
    other = cdk8s.Chart(chart.node.scope, "other", namespace="other")  # type: ignore[arg-type]
    foreign = StaticSite(other, "Static")
    ingress = PathIngress(chart, "Ingress")
    with pytest.raises(
        ValueError,
        match=r"backend other/Static for path '/' is in namespace 'other', Ingress "
        r"'frontend-ingress' \(test/Ingress\) in 'test': an Ingress can only send requests "
        r"to Services of its own namespace",
    ):
        ingress.route("/", foreign)
    assert ingress.paths == ()


def test_a_backend_of_another_chart_in_the_same_namespace_is_routed(chart: cdk8s.Chart) -> None:
    other = cdk8s.Chart(chart.node.scope, "other", namespace="test")  # type: ignore[arg-type]
    ingress = PathIngress(chart, "Ingress")
    ingress.route("/", StaticSite(other, "Static"))
    assert ingress.paths == ("/",)


def test_routes_in_a_chart_made_by_cdk8s_testing() -> None:
    """A chart created on the Node side (no Python object of its own) is still one chart."""
    chart = cdk8s.Testing.chart()
    api, site = _backends(chart)
    ingress = PathIngress(chart, "Ingress")
    ingress.route("/api", api)
    ingress.route("/", site)
    assert ingress.paths == ("/api", "/")


def test_a_refused_backend_leaves_the_ingress_usable(chart: cdk8s.Chart) -> None:
    other = cdk8s.Chart(chart.node.scope, "other", namespace="other")  # type: ignore[arg-type]
    api, site = _backends(chart)
    ingress = PathIngress(chart, "Ingress")
    with pytest.raises(ValueError, match="an Ingress can only send requests"):
        ingress.route("/", StaticSite(other, "Static"))
    ingress.route("/", site)
    ingress.route("/api", api)
    names = [o["metadata"]["name"] for o in synth(chart) if o["kind"] == "NetworkPolicy"]
    assert "fileserver-from-frontend-ingress" in names
    assert "frontend-from-frontend-ingress" in names
    assert [p["path"] for p in _ingress_paths(synth(chart))] == ["/api", "/"]


def test_later_path_that_only_shares_characters_is_allowed(chart: cdk8s.Chart) -> None:
    api, site = _backends(chart)
    ingress = PathIngress(chart, "Ingress")
    ingress.route("/api", api)
    ingress.route("/apix", site)
    paths = _ingress_paths(synth(chart))
    assert [p["path"] for p in paths] == ["/api", "/apix"]
    chosen = select(paths, "/apix/y")
    assert chosen is not None and chosen["backend"]["service"]["name"] == "fileserver"
