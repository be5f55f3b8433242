"""Grammars of values: Kubernetes quantities (as kubectl v1.31 parses them), images, hosts."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from journal_k8s import grammar
from journal_tools import bounds
from support import ROOT


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("1", Fraction(1)),
        ("1.", Fraction(1)),
        (".5", Fraction(1, 2)),
        ("1e3", Fraction(1000)),
        ("1.5e-3", Fraction(3, 2000)),
        ("1E", Fraction(10**18)),
        ("2Ei", Fraction(2 * 1024**6)),
        ("1k", Fraction(1000)),
        ("256Mi", Fraction(256 * 1024**2)),
    ],
)
def test_reads_quantities_exactly(text: str, value: Fraction) -> None:
    assert re.match(grammar.QUANTITY, text)
    assert grammar.quantity_value(text) == value


@pytest.mark.parametrize(
    "text", ["1e3m", "1E3Mi", "-1", "+1", "1 Gi", "1GB", "lots", "1e", "", "."]
)
def test_refuses_what_kubectl_refuses(text: str) -> None:
    """kubectl v1.31: "quantities must match the regular expression ..." (signs: ours)."""
    assert not re.match(grammar.QUANTITY, text)


def test_bounds_say_what_is_allowed() -> None:
    assert bounds.check_quantity("1Mi", bounds.MEMORY, whole=True) == "1Mi"
    with pytest.raises(ValueError, match=r"out of range: allowed from 1Mi to 64Ti"):
        bounds.check_quantity("1048575", bounds.MEMORY, whole=True)
    with pytest.raises(ValueError, match="expected a Kubernetes quantity \\(bytes"):
        bounds.check_quantity("1m", bounds.MEMORY, whole=True)
    with pytest.raises(ValueError, match="out of range"):
        bounds.check_quantity("4097", bounds.CPU)


@pytest.mark.parametrize(
    ("reference", "valid"),
    [
        ("redis:7.4.2-alpine", True),
        ("registry.example.com:5000/team/app@sha256:" + "ab" * 32, True),
        ("localhost/a__b/c-d.e:v1", True),
        ("team/api:1.4@sha256:" + "a" * 64, True),  # tag and digest, as Renovate pins
        ("team/api:1.4@sha256:abc", False),
        ("team/api@sha256:" + "a" * 64 + ":1.4", False),
        ("redis:7:v1", False),
        ("my-repo//x/:v1", False),
        ("Redis:7", False),
        ("redis", False),
        ("redis@sha256:abc", False),
    ],
)
def test_image_references_follow_the_reference_grammar(reference: str, valid: bool) -> None:
    assert bool(re.fullmatch(grammar.IMAGE_REFERENCE, reference)) is valid


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        ("journal.example.com", True),
        ("*.example.com", True),
        ("localhost", True),
        ("10.0.0.1", False),
        ("::1", False),
        ("a.*.example.com", False),
        ("*", False),
        ("Journal.example.com", False),
        ("a" * 64 + ".example.com", False),
    ],
)
def test_hosts_are_dns_names_as_an_ingress_takes_them(host: str, valid: bool) -> None:
    assert bool(re.match(grammar.HOST, host)) is valid


def test_system_namespaces_are_refused() -> None:
    for name in [*bounds.SYSTEM_NAMESPACES, "kube-mine"]:
        with pytest.raises(ValueError, match="a system namespace"):
            bounds.check_namespace(name)
    assert bounds.check_namespace("journal-dev") == "journal-dev"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(4096), (4, "4096")),
        (Fraction(1, 1000), (-2, "1")),
        (Fraction(1, 2), (0, "5")),
        (Fraction(1000), (4, "1")),
        (Fraction(1024**2, 1000**3), (-2, "1048576")),
        (Fraction(1, 1024), (-3, "9765625")),
    ],
)
def test_scientific_is_exact(value: Fraction, expected: tuple[int, str]) -> None:
    magnitude, digits = bounds.scientific(value)
    assert (magnitude, digits) == expected
    assert Fraction(f"0.{digits}") * Fraction(10) ** magnitude == value


@pytest.mark.parametrize("value", [Fraction(0), Fraction(-1), Fraction(1, 3)])
def test_scientific_refuses_what_it_cannot_write(value: Fraction) -> None:
    with pytest.raises(ValueError, match=r"not positive|no finite decimal"):
        bounds.scientific(value)


@pytest.mark.parametrize("kind", [bounds.CPU, bounds.MEMORY, bounds.STORAGE])
def test_binary_bounds_are_the_bounds_divided_by_each_binary_suffix(kind: bounds.Bounds) -> None:
    table = bounds.binary_bounds(kind)
    assert list(table) == list(bounds.BINARY_SUFFIXES)
    for power, (low, high) in enumerate(table.values()):
        for (magnitude, digits), bound in ((low, kind.low), (high, kind.high)):
            assert Fraction(f"0.{digits}") * Fraction(10) ** magnitude * 1024**power == bound


# Fragments of each grammar: written anywhere but journal_k8s/grammar.py, a pattern is copied.
GRAMMAR_FRAGMENTS = (
    "[-a-z0-9]",  # DNS labels and subdomains, hosts
    "Ki|Mi|Gi",  # quantity suffixes
    "[A-Za-z0-9_][A-Za-z0-9_.-]",  # image tags
    "[a-f0-9]{64}",  # image digests
    "[a-z0-9]+((",  # image path components
    "[-A-Za-z0-9_.]",  # label names and values
    "[-._a-zA-Z0-9]",  # Secret keys
    "%[0-9A-Fa-f]",  # path elements
)


def test_no_pattern_is_defined_twice() -> None:
    """Every grammar lives in journal_k8s.grammar; the library, the project's values, checks
    and Helm schema, and the tests import it (generated code aside)."""
    sources = [
        path
        for folder in ("constructs", "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "_gateway" not in path.parts and path.name != "grammar.py"
    ]
    copies = [
        f"{path.relative_to(ROOT)}: {fragment}"
        for path in sources
        for fragment in GRAMMAR_FRAGMENTS
        if fragment in path.read_text() and path.name != "test_grammar.py"
    ]
    assert copies == []
    assert (ROOT / "constructs" / "journal_k8s" / "grammar.py").read_text().count("Ki|Mi|Gi") == 2


@pytest.mark.parametrize(
    ("path", "valid"),
    [
        ("/", True),
        ("/api", True),
        ("/api/", True),
        ("/a%20b/c", True),
        ("api", False),
        ("//api", False),
        ("/a/./b", False),
        ("/a/../b", False),
        ("/a%2Fb", False),
        ("/a#b", False),
        ("/" + "a" * 1024, False),
        ("/api\n", False),
    ],
)
def test_one_path_grammar_for_ingress_and_httproute(path: str, valid: bool) -> None:
    """The API server refuses these in an Ingress path and in an HTTPRoute path alike."""
    assert grammar.is_path(path) is valid


@pytest.mark.parametrize("name", ["frontend", "a", "a" * 63])
def test_dns_names_fullmatch(name: str) -> None:
    assert re.fullmatch(grammar.DNS_LABEL, name) and re.fullmatch(grammar.DNS_SUBDOMAIN, name)
    assert not re.fullmatch(grammar.DNS_LABEL, name + "\n")


@pytest.mark.parametrize(
    ("check", "longest"),
    [
        (grammar.is_dns_label, "a" * 63),
        (grammar.is_dns_1035_label, "a" * 63),
        (grammar.is_dns_subdomain, ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])),
        (grammar.is_host, ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])),
    ],
)
def test_dns_names_are_bounded_by_their_length(check: object, longest: str) -> None:
    """Each DNS grammar takes its longest name (63 or 253 characters), not one character more,
    nor a name with a trailing newline or a value that is not a string."""
    assert callable(check)
    assert check(longest)
    assert not check(longest + "a")
    assert not check(longest[:-1] + "\n")
    assert not check(None)


def test_dns_limits_are_written_once() -> None:
    """The DNS length limits (63 and 253) are ``grammar.DNS_LABEL_MAX`` and
    ``DNS_SUBDOMAIN_MAX`` everywhere in the code (the tests spell the limits out)."""
    sources = [
        path
        for path in sorted((ROOT / "constructs").rglob("*.py"))
        if not {"_gateway", "_monitoring"} & set(path.parts) and path.name != "grammar.py"
    ]
    copies = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"(?<![\w*])(63|253)(?!\w)", line)
    ]
    assert copies == []
