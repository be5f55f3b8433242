"""Prefix paths as Ingress and HTTPRoute rules match them, and the order that keeps them apart."""

from __future__ import annotations


def elements(path: str) -> tuple[str, ...]:
    """The ``/``-separated elements a prefix path matches by (a trailing slash is ignored)."""
    return tuple(e for e in path.split("/") if e)


def specificity(path: str) -> tuple[int, str]:
    """Sort key: more elements first, so a path comes before every prefix that contains it."""
    return -len(elements(path)), path


def most_specific_first(paths: list[str]) -> list[str]:
    """``paths`` with every path before each shorter prefix that contains it, whatever order
    they came in: more elements first, then by name."""
    return sorted(paths, key=specificity)
