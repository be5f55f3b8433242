"""A tier's autoscaler and disruption budget: the autoscaler's body and the budget rule."""

from __future__ import annotations

from collections.abc import Mapping

from ._kplus import k8s
from ._types import Autoscaling, DisruptionBudget


def autoscaler(
    name: str, labels: Mapping[str, str], autoscaling: Autoscaling
) -> k8s.KubeHorizontalPodAutoscalerV2Props:
    """The ``autoscaling/v2`` HorizontalPodAutoscaler of Deployment ``name``.

    Its ``behavior`` is written in full, as the API server stores it (it fills every field
    of a given ``behavior`` with the defaults of ``pkg/apis/autoscaling/v2/defaults.go``),
    so that a GitOps differ sees no change after an apply.
    """
    metrics = [
        k8s.MetricSpecV2(
            type="Resource",
            resource=k8s.ResourceMetricSourceV2(
                name=resource,
                target=k8s.MetricTargetV2(type="Utilization", average_utilization=percent),
            ),
        )
        for resource, percent in (
            ("cpu", autoscaling.cpu_utilization),
            ("memory", autoscaling.memory_utilization),
        )
        if percent is not None
    ]
    return k8s.KubeHorizontalPodAutoscalerV2Props(
        metadata=k8s.ObjectMeta(name=name, labels=dict(labels)),
        spec=k8s.HorizontalPodAutoscalerSpecV2(
            scale_target_ref=k8s.CrossVersionObjectReferenceV2(
                api_version="apps/v1", kind="Deployment", name=name
            ),
            min_replicas=autoscaling.min_replicas,
            max_replicas=autoscaling.max_replicas,
            metrics=metrics,
            behavior=k8s.HorizontalPodAutoscalerBehaviorV2(
                scale_up=k8s.HpaScalingRulesV2(
                    stabilization_window_seconds=0,
                    select_policy="Max",
                    policies=[
                        k8s.HpaScalingPolicyV2(type="Pods", value=4, period_seconds=15),
                        k8s.HpaScalingPolicyV2(type="Percent", value=100, period_seconds=15),
                    ],
                ),
                scale_down=k8s.HpaScalingRulesV2(
                    stabilization_window_seconds=autoscaling.scale_down_stabilization,
                    select_policy="Max",
                    policies=[k8s.HpaScalingPolicyV2(type="Percent", value=100, period_seconds=15)],
                ),
            ),
        ),
    )


def default_budget(floor: int, peak: int) -> DisruptionBudget:
    """The budget of a tier that runs between ``floor`` and ``peak`` pods, when none is given.

    - At least 2 pods at all times: ``maxUnavailable: 1``, one pod at a time.
    - An autoscaler that may hold a single pod (``floor`` 1, ``peak`` above): ``minAvailable:
      1``, so a drain never takes the last pod; it waits until the autoscaler (or a person)
      adds one. ``maxUnavailable: 1`` would allow a full outage there.
    - Never more than one pod: ``maxUnavailable: 1``. Nothing adds a second pod, so any
      budget either blocks every drain for ever or lets the pod go; a drain must not hang.
    """
    if floor == 1 and peak > 1:
        return DisruptionBudget(min_available=1)
    return DisruptionBudget(max_unavailable=1)


def budget_problem(field: str, value: int | str, floor: int, peak: int) -> str | None:
    """What is wrong with a budget ``field: value`` for pods that run between ``floor`` and
    ``peak`` (``None`` when it is sound): it must neither let every pod go at once (a full
    outage; allowed only where there is never more than one pod) nor block every eviction
    even at ``peak`` pods (a node drain would wait for ever)."""
    if field == "maxUnavailable":
        down = _pods(value, floor)
        if down >= floor and peak > 1:
            return (
                f"maxUnavailable: {value!r} lets every pod go at once at the fewest pods "
                f"({floor}): a full outage; expected fewer than {floor}, or minAvailable"
            )
        if down < 1:
            return f"maxUnavailable: {value!r} blocks every eviction: expected at least 1 pod"
        return None
    up = _pods(value, peak)
    if up >= peak:
        return (
            f"minAvailable: {value!r} blocks every eviction even at the most pods ({peak}): "
            f"node drains would wait for ever; expected fewer than {peak}"
        )
    if up < 1:
        return f"minAvailable: {value!r} lets every pod go at once: expected at least 1 pod"
    return None


def tier_budget(
    argument: str, given: DisruptionBudget | None, floor: int, peak: int
) -> DisruptionBudget:
    """``given`` (or the default budget) for a tier of ``floor`` to ``peak`` pods.

    Raises:
        ValueError: ``given`` allows a full outage or blocks every drain (``budget_problem``).
    """
    budget = given or default_budget(floor, peak)
    field, value = budget.form()
    problem = budget_problem(field, value, floor, peak)
    if problem is not None:
        between = f"{floor} pods" if floor == peak else f"{floor} to {peak} pods"
        raise ValueError(f"{argument} is not allowed for {between}: {problem}")
    return budget


def _pods(value: int | str, replicas: int) -> int:
    """A budget value in pods at ``replicas`` pods (a percentage rounded up, as the
    disruption controller rounds it)."""
    if isinstance(value, int):
        return value
    return -(-int(value.rstrip("%")) * replicas // 100)
