"""Bounds of the values the environments hold: quantities by kind, and namespaces of our own.

The patterns themselves are the library's (``journal_k8s.grammar``); quantity bounds are exact
(``Fraction``), not patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from journal_k8s._types import MIN_BYTES
from journal_k8s.grammar import QUANTITY, QUANTITY_SUFFIXES, WHOLE_QUANTITY, quantity_value

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SYSTEM_PREFIX = "kube-"


@dataclass(frozen=True)
class Bounds:
    """The range a kind of quantity may take, with its description for messages."""

    low: Fraction
    high: Fraction
    text: str
    name: str
    """What is bounded, as an identifier (``cpu``): it names the bounds in the Helm chart."""


CPU = Bounds(Fraction(1, 1000), Fraction(4096), "from 1m to 4096 (cores)", "cpu")
MEMORY = Bounds(MIN_BYTES, Fraction(64 * 1024**4), "from 1Mi to 64Ti (bytes)", "memory")
STORAGE = Bounds(MIN_BYTES, Fraction(1024**5), "from 1Mi to 1Pi (bytes)", "storage")
BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
"""A quantity's binary suffix (``""`` for none): its multiplier is not a power of ten."""


def scientific(value: Fraction) -> tuple[int, str]:
    """A positive terminating decimal as ``(m, digits)``: ``value = 0.<digits> * 10**m``.

    ``digits`` has no leading and no trailing zero, so two values of one ``m`` compare as their
    ``digits`` compare as text (a prefix is smaller): exact comparison without arithmetic.

    Raises:
        ValueError: ``value`` is not positive or has no finite decimal expansion.
    """
    if value <= 0:
        raise ValueError(f"{value} is not positive")
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    if denominator != 1:
        raise ValueError(f"{value} has no finite decimal expansion")
    places = max(twos, fives)
    text = str(int(value * 10**places))
    return len(text) - places, text.rstrip("0")


def binary_bounds(bounds: Bounds) -> dict[str, tuple[tuple[int, str], tuple[int, str]]]:
    """Per binary suffix, the bounds of the rest of a quantity (number and any decimal
    suffix or exponent) as ``scientific`` pairs: ``(low / 1024**k, high / 1024**k)``."""
    return {
        suffix: (
            scientific(bounds.low / QUANTITY_SUFFIXES[suffix]),
            scientific(bounds.high / QUANTITY_SUFFIXES[suffix]),
        )
        for suffix in BINARY_SUFFIXES
    }


def check_quantity(text: str, bounds: Bounds, *, whole: bool = False) -> str:
    """Return ``text`` if it is a quantity within ``bounds``.

    Raises:
        ValueError: saying what is allowed.
    """
    pattern = WHOLE_QUANTITY if whole else QUANTITY
    if not re.fullmatch(pattern, text):
        unit = "bytes, e.g. 256Mi or 1G" if whole else "e.g. 500m, 1 or 2"
        raise ValueError(f"expected a Kubernetes quantity ({unit})")
    if not bounds.low <= quantity_value(text) <= bounds.high:
        raise ValueError(f"out of range: allowed {bounds.text}")
    return text


def check_namespace(name: str) -> str:
    """Return ``name`` unless it is a system namespace (or has Kubernetes' ``kube-`` prefix)."""
    if name in SYSTEM_NAMESPACES or name.startswith(SYSTEM_PREFIX):
        raise ValueError(
            f"a system namespace: use a namespace of your own (not {', '.join(SYSTEM_NAMESPACES)}"
            f" or any {SYSTEM_PREFIX}*)"
        )
    return name
