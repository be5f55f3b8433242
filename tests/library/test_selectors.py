"""The one label-selector evaluator: LabelSelector semantics and the pods a workload runs."""

from __future__ import annotations

from typing import Any

import pytest

from journal_tools.selectors import pod_labels, selects, selects_any

TEMPLATE = {"metadata": {"labels": {"app": "a"}}}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, True),
        (None, True),
        ({"matchLabels": {"app": "a"}}, True),
        ({"matchLabels": {"app": "b"}}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, True),
        (
            {
                "matchLabels": {"app": "a"},
                "matchExpressions": [{"key": "app", "operator": "Exists"}],
            },
            True,
        ),
    ],
)
def test_label_selector_semantics(selector: dict[str, Any] | None, expected: bool) -> None:
    assert selects(selector, {"app": "a"}) is expected


def test_an_unknown_operator_is_refused() -> None:
    with pytest.raises(ValueError, match="operator 'Gt' is not allowed: expected In, NotIn"):
        selects({"matchExpressions": [{"key": "app", "operator": "Gt"}]}, {"app": "a"})


def test_a_deployment_runs_pods_with_the_template_labels() -> None:
    deployment = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 3}}
    assert pod_labels(deployment, TEMPLATE) == [{"app": "a"}]


def test_each_stateful_set_pod_has_its_name_and_index() -> None:
    stateful_set = {
        "kind": "StatefulSet",
        "metadata": {"name": "redis"},
        "spec": {"replicas": 2, "ordinals": {"start": 1}},
    }
    pods = pod_labels(stateful_set, TEMPLATE)
    assert [p["statefulset.kubernetes.io/pod-name"] for p in pods] == ["redis-1", "redis-2"]
    assert [p["apps.kubernetes.io/pod-index"] for p in pods] == ["1", "2"]
    one_pod = {"matchLabels": {"statefulset.kubernetes.io/pod-name": "redis-2"}}
    assert selects_any(one_pod, pods)
    assert not selects_any({"matchLabels": {"statefulset.kubernetes.io/pod-name": "redis-0"}}, pods)
