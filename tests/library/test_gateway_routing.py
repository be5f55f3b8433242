"""Where the synthesized HTTPRoutes send requests, by the Gateway API's matching precedence.

For ``PathPrefix`` matches the HTTPRoute specification says: a prefix matches element by
element (``/abc`` matches ``/abc``, ``/abc/`` and ``/abc/def`` but not ``/abcd``; a trailing
slash is ignored; case-sensitive); among the rules that match, the longest prefix (in
characters) wins, and a remaining tie goes to the first matching rule in list order.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cdk8s

from journal_k8s import PathRoute
from journal_tools import synth
from journal_tools.manifests import from_yaml
from support import Backend, Manifest, find

Rule = Mapping[str, Any]
PATHS = ["/", "/api", "/api/v2", "/assets"]


def prefix_matches(prefix: str, request: str) -> bool:
    """Whether a ``PathPrefix`` value matches the request path, element by element."""
    wanted = [e for e in prefix.split("/") if e]
    return [e for e in request.split("/") if e][: len(wanted)] == wanted


def host_matches(hostnames: Sequence[str], host: str) -> bool:
    """Whether the route's ``hostnames`` admit ``host`` (none: every host; ``*.`` wildcards)."""
    return not hostnames or any(
        host == name or (name.startswith("*.") and host.endswith(name[1:])) for name in hostnames
    )


def select(route: Manifest, host: str, request: str) -> str | None:
    """The backend Service a conformant Gateway picks for ``host`` and path ``request``."""
    if not host_matches(route["spec"].get("hostnames", []), host):
        return None
    matching: list[tuple[int, int, Rule]] = []
    for index, rule in enumerate(route["spec"]["rules"]):
        for match in rule["matches"]:
            path = match["path"]
            assert path["type"] == "PathPrefix"
            if prefix_matches(path["value"], request):
                matching.append((len(path["value"].rstrip("/")), -index, rule))
    if not matching:
        return None
    _length, _index, rule = max(matching, key=lambda m: (m[0], m[1]))
    return str(rule["backendRefs"][0]["name"])


def select_first(route: Manifest, request: str) -> str | None:
    """The backend a data plane that follows list order alone would pick: the first match."""
    return next(
        (
            str(rule["backendRefs"][0]["name"])
            for rule in route["spec"]["rules"]
            if any(prefix_matches(m["path"]["value"], request) for m in rule["matches"])
        ),
        None,
    )


def test_prefix_matching_follows_the_specification_examples() -> None:
    assert prefix_matches("/abc", "/abc")
    assert prefix_matches("/abc", "/abc/")
    assert prefix_matches("/abc", "/abc/def")
    assert not prefix_matches("/abc", "/abcd")
    assert prefix_matches("/abc/", "/abc")
    assert not prefix_matches("/abc", "/ABC")
    assert prefix_matches("/", "/anything")


def test_staging_routes_api_calls_to_the_frontend_and_the_rest_to_the_site(dist: Path) -> None:
    objects = from_yaml((dist / "staging" / synth.MANIFEST_FILE).read_text())
    route = find(objects, "HTTPRoute", "frontend-route")
    host = "journal.staging.example.com"
    expected = {
        "/api": "frontend",
        "/api/": "frontend",
        "/api/entries/42": "frontend",
        "/apix": "fileserver",
        "/API": "fileserver",
        "/": "fileserver",
        "/index.html": "fileserver",
        "/static/app.js": "fileserver",
    }
    for request, backend in expected.items():
        assert select(route, host, request) == backend, request
        assert select_first(route, request) == backend, request
    assert select(route, "journal.example.com", "/api") is None


def test_longest_prefix_wins_whatever_the_call_order() -> None:
    """And the manifest order agrees, so a list-order data plane routes the same way."""
    requests = {
        "/": "b0",
        "/api": "b1",
        "/api/v1": "b1",
        "/api/v2": "b2",
        "/api/v2/users": "b2",
        "/api/v20": "b1",
        "/assets/logo.png": "b3",
        "/assetsx": "b0",
    }
    for order in itertools.permutations(PATHS):
        chart = cdk8s.Chart(cdk8s.App(), "t", namespace="t", disable_resource_name_hashes=True)
        route = PathRoute(chart, "Route", gateway_name="shared", gateway_namespace="gateways")
        for index, path in enumerate(order):
            route.route(path, Backend(chart, f"B{index}", name=f"b{PATHS.index(path)}"))
        manifest = find(list(chart.to_json()), "HTTPRoute", "frontend-route")
        for request, backend in requests.items():
            assert select(manifest, "any.example.com", request) == backend, (order, request)
            assert select_first(manifest, request) == backend, (order, request)
