"""canonical_quantity against the tables of Kubernetes' own tests (resource/quantity_test.go:
TestQuantityParse, TestQuantityString, TestQuantityParseEmit and the invalid inputs)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from journal_k8s.grammar import _parse_quantity, _quantity_text, canonical_quantity

D, B, X = "decimal", "binary", "exponent"


def dec(mantissa: int, exponent: int) -> Fraction:
    return Fraction(mantissa) * Fraction(10) ** exponent


PARSE = [
    ("0", dec(0, 0), D), ("0n", dec(0, 0), D), ("0u", dec(0, 0), D), ("0m", dec(0, 0), D),
    ("0Ki", dec(0, 0), B), ("0k", dec(0, 0), D), ("0Mi", dec(0, 0), B), ("0M", dec(0, 0), D),
    ("0Gi", dec(0, 0), B), ("0G", dec(0, 0), D), ("0Ti", dec(0, 0), B), ("0T", dec(0, 0), D),
    ("1", dec(1, 0), D),
    ("1Ki", dec(1024, 0), B), ("8Ki", dec(8 * 1024, 0), B), ("7Mi", dec(7 * 1024**2, 0), B),
    ("6Gi", dec(6 * 1024**3, 0), B), ("5Ti", dec(5 * 1024**4, 0), B),
    ("4Pi", dec(4 * 1024**5, 0), B), ("3Ei", dec(3 * 1024**6, 0), B),
    ("10Ti", dec(10 * 1024**4, 0), B), ("100Ti", dec(100 * 1024**4, 0), B),
    ("5n", dec(5, -9), D), ("4u", dec(4, -6), D), ("3m", dec(3, -3), D), ("9", dec(9, 0), D),
    ("8k", dec(8, 3), D), ("50k", dec(5, 4), D), ("7M", dec(7, 6), D), ("6G", dec(6, 9), D),
    ("5T", dec(5, 12), D), ("40T", dec(4, 13), D), ("300T", dec(3, 14), D),
    ("2P", dec(2, 15), D), ("1E", dec(1, 18), D),
    ("1E-3", dec(1, -3), X), ("1e3", dec(1, 3), X), ("1E6", dec(1, 6), X), ("1e9", dec(1, 9), X),
    ("1E12", dec(1, 12), X), ("1e15", dec(1, 15), X), ("1E18", dec(1, 18), X),
    ("1e14", dec(1, 14), X), ("1e13", dec(1, 13), X), ("100.035k", dec(100035, 0), D),
    ("0.001", dec(1, -3), D), ("0.0005k", dec(5, -1), D), ("0.005", dec(5, -3), D),
    ("0.05", dec(5, -2), D), ("0.5", dec(5, -1), D), ("0.00050k", dec(5, -1), D),
    ("0.00500", dec(5, -3), D), ("0.05000", dec(5, -2), D), ("0.50000", dec(5, -1), D),
    ("0.5e0", dec(5, -1), X), ("0.5e-1", dec(5, -2), X), ("0.5e-2", dec(5, -3), X),
    ("10.035M", dec(10035, 3), D),
    ("1.2e3", dec(12, 2), X), ("1.3E+6", dec(13, 5), X), ("1.40e9", dec(14, 8), X),
    ("1.53E12", dec(153, 10), X), ("1.6e15", dec(16, 14), X), ("1.7E18", dec(17, 17), X),
    ("9.01", dec(901, -2), D), ("8.1k", dec(81, 2), D), ("7.123456M", dec(7123456, 0), D),
    ("6.987654321G", dec(6987654321, 0), D), ("5.444T", dec(5444, 9), D),
    ("40.1T", dec(401, 11), D), ("300.2T", dec(3002, 11), D), ("2.5P", dec(25, 14), D),
    ("1.01E", dec(101, 16), D),
    ("3.001n", dec(4, -9), D), ("1.1E-9", dec(2, -9), X), ("0.0000000001", dec(1, -9), D),
    ("0.0000000005", dec(1, -9), D), ("0.00000000050", dec(1, -9), D),
    ("0.5e-9", dec(1, -9), X), ("0.9n", dec(1, -9), D), ("0.00000012345", dec(124, -9), D),
    ("0.00000012354", dec(124, -9), D),
    ("9Ei", Fraction(2**63 - 1), B), ("9223372036854775807Ki", Fraction(2**63 - 1), B),
    ("12E", dec(12, 18), D),
    ("100.035Ki", dec(10243584, -2), B), ("0.5Mi", dec(int(0.5 * 1024 * 1024), 0), B),
    ("0.05Gi", dec(536870912, -1), B), ("0.025Ti", dec(274877906944, -1), B),
    ("0.000000000001Ki", dec(2, -9), D), (".001", dec(1, -3), D), (".0001k", dec(100, -3), D),
    ("1.", dec(1, 0), D), ("1.G", dec(1, 9), D),
]  # fmt: skip

STRING = [
    (dec(1024**3, 0), B, "1Gi", "1024Mi"), (dec(300 * 1024**2, 0), B, "300Mi", "307200Ki"),
    (dec(6 * 1024, 0), B, "6Ki", ""), (dec(1001 * 1024**3, 0), B, "1001Gi", "1025024Mi"),
    (dec(1024**4, 0), B, "1Ti", "1024Gi"), (dec(5, 0), B, "5", "5000m"),
    (dec(500, -3), B, "500m", "0.5"), (dec(1, 9), D, "1G", "1000M"),
    (dec(1000, 6), D, "1G", "0.001T"), (dec(1000000, 3), D, "1G", ""),
    (dec(1000000000, 0), D, "1G", ""), (dec(1, -3), D, "1m", "1000u"), (dec(80, -3), D, "80m", ""),
    (dec(1080, -3), D, "1080m", "1.08"), (dec(108, -2), D, "1080m", "1080000000n"),
    (dec(10800, -4), D, "1080m", ""), (dec(300, 6), D, "300M", ""), (dec(1, 12), D, "1T", ""),
    (dec(1, 18), D, "1E", ""), (dec(1, 21), D, "1e21", "1000E"), (dec(5, 21), D, "5e21", "5000E"),
    (dec(1, 24), D, "1e24", "1000000E"), (dec(1, 70), B, "10e69", ""),
    (dec(2, 70), B, "20e69", ""), (dec(1, 72), B, "1e72", ""),
    (dec(1234567, 6), D, "1234567M", ""), (dec(1234567, -3), B, "1234567m", ""),
    (dec(3, 3), D, "3k", ""), (dec(1025, 0), B, "1025", ""), (dec(0, 0), D, "0", ""),
    (dec(0, 0), B, "0", ""), (dec(1, 9), X, "1e9", ".001e12"), (dec(1, -3), X, "1e-3", "0.001e0"),
    (dec(1, -9), X, "1e-9", "1000e-12"), (dec(80, -3), X, "80e-3", ""),
    (dec(300, 6), X, "300e6", ""), (dec(1, 12), X, "1e12", ""), (dec(1, 3), X, "1e3", ""),
    (dec(3, 3), X, "3e3", ""), (dec(3, 3), D, "3k", ""), (dec(0, 0), X, "0", "00"),
    (dec(1, -9), D, "1n", ""), (dec(80, -9), D, "80n", ""), (dec(1080, -9), D, "1080n", ""),
    (dec(108, -8), D, "1080n", ""), (dec(10800, -10), D, "1080n", ""), (dec(1, -6), D, "1u", ""),
    (dec(80, -6), D, "80u", ""), (dec(1080, -6), D, "1080u", ""),
]  # fmt: skip
BINARY_STRING = [(Fraction(2000), "2000"), (Fraction(2**70), "1180591620717411303424")]
"""TestBinarySIZeroExponentString, TestBinarySIPastEiArithmeticRoundTrip: written only."""

EMIT = [
    ("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"),
    (".001Ki", "1024m"), (".000001Ki", "1024u"), (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
]  # fmt: skip

INVALID = ["", "1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-",
           "1e4294967297", " 1", "1 "]  # fmt: skip


@pytest.mark.parametrize(("text", "amount", "form"), PARSE)
def test_parses_as_kubernetes_does(text: str, amount: Fraction, form: str) -> None:
    assert _parse_quantity(text)[:2] == (amount, form)
    assert _parse_quantity("+" + text)[:2] == (amount, form)
    assert _parse_quantity("-" + text)[:2] == (-amount, form)


@pytest.mark.parametrize(("amount", "form", "expected", "alternate"), STRING)
def test_writes_as_kubernetes_does(
    amount: Fraction, form: str, expected: str, alternate: str
) -> None:
    assert _quantity_text(amount, form) == expected
    assert canonical_quantity(expected) == expected
    if alternate:
        assert canonical_quantity(alternate) == expected
    if amount:
        assert _quantity_text(-amount, form) == "-" + expected


@pytest.mark.parametrize(("amount", "expected"), BINARY_STRING)
def test_writes_binary_amounts_without_a_suffix_as_kubernetes_does(
    amount: Fraction, expected: str
) -> None:
    assert _quantity_text(amount, B) == expected
    assert _quantity_text(-amount, B) == "-" + expected


@pytest.mark.parametrize(("text", "expected"), EMIT)
def test_parse_then_emit(text: str, expected: str) -> None:
    assert canonical_quantity(text) == expected
    assert canonical_quantity("-" + text) == "-" + expected


@pytest.mark.parametrize("text", INVALID)
def test_fails_on_what_kubernetes_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"quantity|suffix|number|exponent"):
        canonical_quantity(text)


def test_the_stored_forms_the_api_server_was_seen_to_write() -> None:
    """Facts of a real kube-apiserver (SPEC section 5) and the project's own values."""
    seen = {30: "30", "0.5": "500m", "1024Mi": "1Gi", "1.5Gi": "1536Mi", "2000m": "2",
            "1e3": "1e3", "1": "1", "1000m": "1", "1G": "1G", "24Gi": "24Gi"}  # fmt: skip
    assert {value: canonical_quantity(value) for value in seen} == seen
