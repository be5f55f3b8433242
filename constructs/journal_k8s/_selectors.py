"""Which pods a label selector picks: the one evaluator of the library's rules and the tools."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a LabelSelector picks a pod with ``labels``: every ``matchLabels`` entry and
    every ``matchExpressions`` requirement must hold; an empty selector picks every pod."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, values = expression["key"], expression.get("values") or []
        match expression["operator"]:
            case "In":
                matched = labels.get(key) in values
            case "NotIn":
                matched = labels.get(key) not in values
            case "Exists":
                matched = key in labels
            case "DoesNotExist":
                matched = key not in labels
            case operator:
                raise ValueError(
                    f"label selector operator {operator!r} is not allowed: "
                    "expected In, NotIn, Exists or DoesNotExist"
                )
        if not matched:
            return False
    return True
