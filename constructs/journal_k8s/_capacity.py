"""Rules over an app's final manifests: quotas, autoscalers and disruption budgets.

``problems(objects)`` checks the manifests of a whole app (every chart, after every JSON
patch); the library runs it at synth beside ``rules.LIBRARY_RULES`` (``_bulk``), in
``app.synth()``, ``cdk8s synth`` and ``Testing.synth`` alike. The project's own checks call
``problems`` too. Every container counts, however it got there (a sidecar, an init
container, a kplus workload), as Kubernetes counts it:

- **quota**: every ResourceQuota holds its namespace's workloads at their most: the
  autoscaler's ``maxReplicas`` (else ``spec.replicas``) plus a Deployment's rolling-update
  surge, times each pod's requests and limits (containers, init containers and sidecars as
  the quota counts a pod, LimitRange defaults filled in), and the claims' storage. DaemonSets,
  Jobs and CronJobs are not counted (their pod counts are not in the manifests).
- **autoscalers**: the workload an autoscaler scales has no ``spec.replicas`` (an apply would
  reset the count it chose), and every container has a request for each resource whose
  utilization it targets.
- **budgets**: a PodDisruptionBudget neither lets every pod of its workloads go at once at
  their fewest, nor blocks every eviction at their most (``_autoscaling.budget_problem``).
- **stored form**: every quantity these rules read in a journal construct's object (after a
  team's JSON patches) is written as the API server stores it (``500m``, not ``0.5``), so
  that a GitOps differ sees no change after an apply.

The rules count with the quantities and counts they read; where one is malformed (a JSON
patch's ``"abc"``, a team's own ``500MB``), each such field is reported instead, and the sums
wait until it is mended.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ._autoscaling import budget_problem
from ._selectors import selects
from .grammar import QUANTITY_SUFFIXES, canonical_quantity, quantity_value
from .rules import get, where

Manifest = Mapping[str, Any]

_SCALED_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")
_COUNTED = ("cpu", "memory", "ephemeral-storage")


def problems(objects: Sequence[Manifest], own: Sequence[Manifest] | None = None) -> list[str]:
    """Every violation of the rules above in an app's manifests; empty when they are sound.
    A malformed field the rules read is reported on its own (the sums need it). The
    quantities of ``own`` (default: every object) must be in the form the API server stores
    (cdk8s-plus writes ``1000m`` for ``1``: a team's own workloads are its own affair)."""
    fields = [(obj, list(_read_fields(obj))) for obj in objects]
    malformed = list(_malformed(fields))
    if malformed:
        return malformed
    workloads = _workloads(objects)
    mine = None if own is None else {id(obj) for obj in own}
    return [
        *_unstored(f for f in fields if mine is None or id(f[0]) in mine),
        *_quotas(objects, workloads),
        *_autoscalers(workloads),
        *_budgets(objects, workloads),
    ]


_Fields = Iterable[tuple[Manifest, list[tuple[str, Any, Any]]]]
"""Each object with the fields the rules read in it (``_read_fields``)."""


def _malformed(fields: _Fields) -> Iterator[str]:
    """``Kind namespace/name: field: value is not allowed: expected ...`` for each field the
    rules read that is not of its type: quantities, counts, lists of containers."""
    for obj, read in fields:
        for path, value, expected in read:
            if not expected(value):
                yield f"{where(obj)}: {path}: {value!r} is not allowed: expected {expected.__doc__}"


def _unstored(fields: _Fields) -> Iterator[str]:
    """Each quantity the rules read whose text the API server would store otherwise (``0.5``
    is stored as ``500m``): a GitOps differ would show that field changed for ever."""
    for obj, read in fields:
        for path, value, expected in read:
            if expected is _quantity and str(value) != (stored := _stored(str(value))):
                yield (
                    f"{where(obj)}: {path}: {value!r} is not allowed: expected {stored!r}, the "
                    "form the API server stores (a GitOps differ would show any other as a "
                    "change for ever)"
                )


@functools.cache
def _stored(text: str) -> str:
    return canonical_quantity(text)


def _quantity(value: Any) -> bool:
    """a Kubernetes quantity (500m, 2, 1.5Gi)"""
    try:
        quantity_value(str(value))
    except ValueError:
        return False
    return not isinstance(value, bool)


def _count(value: Any) -> bool:
    """a whole number"""
    return isinstance(value, int) and not isinstance(value, bool)


def _surge(value: Any) -> bool:
    """a whole number or a percentage (25%)"""
    return _count(value) or (isinstance(value, str) and re.fullmatch(r"[0-9]+%", value) is not None)


def _list(value: Any) -> bool:
    """a list"""
    return isinstance(value, list)


def _mapping(value: Any) -> bool:
    """a mapping"""
    return isinstance(value, Mapping)


def _read_fields(obj: Manifest) -> Iterator[tuple[str, Any, Any]]:
    """Each field of ``obj`` the rules read, with its path and its check (if it is set)."""
    kind = obj.get("kind")
    fields: list[tuple[str, Any, Any]] = []
    if kind in _SCALED_KINDS or kind == "Pod":
        spec_path = "spec" if kind == "Pod" else "spec.template.spec"
        spec = get(obj, *spec_path.split("."))
        fields.append((spec_path, spec, _mapping))
        for field in ("initContainers", "containers"):
            containers = get(spec, field)
            fields.append((f"{spec_path}.{field}", containers, _list))
            for index, container in enumerate(containers if isinstance(containers, list) else []):
                path = f"{spec_path}.{field}[{index}]"
                fields.append((path, container, _mapping))
                for part in ("requests", "limits"):
                    amounts = get(container, "resources", part)
                    fields.append((f"{path}.resources.{part}", amounts, _mapping))
                    for resource in _COUNTED:
                        value = get(amounts, resource)
                        fields.append((f"{path}.resources.{part}.{resource}", value, _quantity))
        fields.append(("spec.replicas", get(obj, "spec", "replicas"), _count))
        surge = get(obj, "spec", "strategy", "rollingUpdate", "maxSurge")
        fields.append(("spec.strategy.rollingUpdate.maxSurge", surge, _surge))
        for index, claim in enumerate(get(obj, "spec", "volumeClaimTemplates") or []):
            size = get(claim, "spec", "resources", "requests", "storage")
            path = f"spec.volumeClaimTemplates[{index}].spec.resources.requests.storage"
            fields.append((path, size, _quantity))
    elif kind == "PersistentVolumeClaim":
        size = get(obj, "spec", "resources", "requests", "storage")
        fields.append(("spec.resources.requests.storage", size, _quantity))
    elif kind == "ResourceQuota":
        hard = get(obj, "spec", "hard")
        fields.append(("spec.hard", hard, _mapping))
        for key, value in hard.items() if isinstance(hard, Mapping) else ():
            if _quota_key(key) is not None:
                fields.append((f"spec.hard.{key}", value, _quantity))
    elif kind == "HorizontalPodAutoscaler":
        for field in ("minReplicas", "maxReplicas"):
            fields.append((f"spec.{field}", get(obj, "spec", field), _count))
    elif kind == "LimitRange":
        for index, item in enumerate(get(obj, "spec", "limits") or []):
            for part in ("max", "min", "default", "defaultRequest"):
                for resource in _COUNTED:
                    value = get(item, part, resource)
                    fields.append((f"spec.limits[{index}].{part}.{resource}", value, _quantity))
    return (field for field in fields if field[1] is not None)


@dataclass(frozen=True)
class _Workload:
    """A Deployment, StatefulSet, ReplicaSet or Pod, with the autoscaler that scales it."""

    obj: Manifest
    pod: Mapping[str, Any]
    labels: Mapping[str, str]
    autoscaler: Manifest | None

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def namespace(self) -> str:
        return _namespace(self.obj)

    @property
    def where(self) -> str:
        return f"{self.kind} {_name(self.obj)}"

    @property
    def replicas(self) -> int | None:
        value = get(self.obj, "spec", "replicas")
        return value if isinstance(value, int) else None

    @property
    def floor(self) -> int:
        """Its fewest pods: the autoscaler's ``minReplicas``, else its replicas."""
        if self.autoscaler is not None:
            return int(get(self.autoscaler, "spec", "minReplicas") or 1)
        return 1 if self.kind == "Pod" else (self.replicas if self.replicas is not None else 1)

    @property
    def peak(self) -> int:
        """Its most pods: the autoscaler's ``maxReplicas``, else its replicas."""
        if self.autoscaler is not None:
            return int(get(self.autoscaler, "spec", "maxReplicas") or 1)
        return self.floor

    @property
    def surge(self) -> int:
        """The pods a rolling update adds above ``peak`` (a Deployment's ``maxSurge``)."""
        if self.kind != "Deployment":
            return 0
        strategy = get(self.obj, "spec", "strategy") or {}
        if strategy.get("type") == "Recreate":
            return 0
        surge = get(strategy, "rollingUpdate", "maxSurge")
        surge = "25%" if surge is None else surge
        if isinstance(surge, int):
            return surge
        return math.ceil(int(str(surge).rstrip("%")) * self.peak / 100)

    def count(self) -> str:
        """How ``peak + surge`` pods come about, for a message."""
        if self.autoscaler is not None:
            base = f"autoscaler maxReplicas {self.peak}"
        else:
            base = _plural(self.peak, "replica") if self.kind != "Pod" else "a Pod"
        return f"{base} + surge {self.surge}" if self.surge else base


def _workloads(objects: Sequence[Manifest]) -> list[_Workload]:
    autoscalers = {}
    for obj in objects:
        if obj.get("kind") == "HorizontalPodAutoscaler":
            ref = get(obj, "spec", "scaleTargetRef") or {}
            autoscalers[(_namespace(obj), ref.get("kind"), ref.get("name"))] = obj
    found = []
    for obj in objects:
        kind = obj.get("kind")
        if kind == "Pod":
            pod, labels = obj.get("spec") or {}, get(obj, "metadata", "labels") or {}
        elif kind in _SCALED_KINDS:
            pod = get(obj, "spec", "template", "spec") or {}
            labels = get(obj, "spec", "template", "metadata", "labels") or {}
        else:
            continue
        key = (_namespace(obj), kind, _name(obj))
        found.append(_Workload(obj, pod, labels, autoscalers.get(key)))
    return found


def _quotas(objects: Sequence[Manifest], workloads: Sequence[_Workload]) -> Iterator[str]:
    for quota in (o for o in objects if o.get("kind") == "ResourceQuota"):
        namespace = _namespace(quota)
        defaults = _limit_defaults(o for o in objects if _namespace(o) == namespace)
        hard: Mapping[str, Any] = get(quota, "spec", "hard") or {}
        keys = {k: counted for k in hard if (counted := _quota_key(k)) is not None}
        need: dict[str, list[tuple[str, int, Fraction]]] = {}
        for workload in (w for w in workloads if w.namespace == namespace):
            pods = workload.peak + workload.surge
            counted = f"{workload.where} {_plural(pods, 'pod')} ({workload.count()})"
            need.setdefault("pods", []).append((counted, pods, Fraction(1)))
            for key, amount in _pod_amounts(workload, defaults).items():
                if amount is None:
                    yield from _missing(workload, key, keys, quota)
                else:
                    need.setdefault(key, []).append((counted, pods, amount))
            for claim in get(workload.obj, "spec", "volumeClaimTemplates") or []:
                size = get(claim, "spec", "resources", "requests", "storage")
                if size is not None:
                    counted = (
                        f"{workload.where} claim {_name(claim)!r}, {_plural(workload.peak, 'pod')}"
                    )
                    need.setdefault("requests.storage", []).append(
                        (counted, workload.peak, _amount(size))
                    )
        for claim in (o for o in objects if o.get("kind") == "PersistentVolumeClaim"):
            size = get(claim, "spec", "resources", "requests", "storage")
            if _namespace(claim) == namespace and size is not None:
                counted = f"PersistentVolumeClaim {_name(claim)}"
                need.setdefault("requests.storage", []).append((counted, 1, _amount(size)))
        for written, key in sorted(keys.items()):
            parts = need.get(key, [])
            total = sum((pods * amount for _, pods, amount in parts), Fraction(0))
            if total > _amount(hard[written]):
                yield _over(quota, written, hard[written], total, parts, per_pod=key != "pods")


def _over(
    quota: Manifest,
    key: str,
    limit: Any,
    total: Fraction,
    parts: Sequence[tuple[str, int, Fraction]],
    *,
    per_pod: bool,
) -> str:
    """The message of a quota key that cannot hold the workloads at their most."""
    unit = str(limit).lstrip("0123456789.")
    terms = [f"{how} * {_format(amount, unit)}" if per_pod else how for how, _, amount in parts]
    return (
        f"ResourceQuota {_namespace(quota)}/{_name(quota)}: spec.hard.{key}: {str(limit)!r} "
        f"cannot hold the namespace's workloads at their most, "
        f"{_format(total, unit)} = {' + '.join(terms)}: raise the quota, or lower the "
        "replicas or an autoscaler's max_replicas"
    )


def _missing(
    workload: _Workload, key: str, keys: Mapping[str, str], quota: Manifest
) -> Iterator[str]:
    """A container without an amount the quota limits: the API server refuses the pods."""
    for written, counted in sorted(keys.items()):
        if counted == key:
            kind, _, resource = key.partition(".")
            yield (
                f"{workload.where}: a container has no {resource} {kind} (nor a LimitRange "
                f"default), while ResourceQuota {_name(quota)} limits {written}: the API "
                "server would refuse its pods; give every container resources."
                f"{kind}.{resource}"
            )


def _quota_key(key: str) -> str | None:
    """The pod amount a quota key limits (``cpu`` is ``requests.cpu``), or ``None``."""
    if key == "pods" or key == "requests.storage":
        return key
    if key in _COUNTED:
        return f"requests.{key}"
    kind, _, resource = key.partition(".")
    if kind in ("requests", "limits") and resource in _COUNTED:
        return key
    return None


def _limit_defaults(objects: Iterable[Manifest]) -> dict[str, dict[str, Any]]:
    """A namespace's LimitRange defaults for containers, as the API server defaults a
    LimitRange: ``limits`` (``default``, else ``max``), ``requests`` (``defaultRequest``,
    else the default limit, else ``min``)."""
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    for obj in objects:
        if obj.get("kind") != "LimitRange":
            continue
        for item in get(obj, "spec", "limits") or []:
            if item.get("type") != "Container":
                continue
            item_limits = {**(item.get("max") or {}), **(item.get("default") or {})}
            item_requests = {
                **(item.get("min") or {}),
                **item_limits,
                **(item.get("defaultRequest") or {}),
            }
            limits = {**item_limits, **limits}
            requests = {**item_requests, **requests}
    return {"limits": limits, "requests": requests}


def _pod_amounts(
    workload: _Workload, defaults: Mapping[str, Mapping[str, Any]]
) -> dict[str, Fraction | None]:
    """One pod's requests and limits (``requests.cpu``, ``limits.memory``, …), as the quota
    counts a pod (Kubernetes' ``PodRequests`` and ``PodLimits``): its containers plus its
    sidecars (init containers that keep running), or its largest init container with the
    sidecars started before it, if more. ``None`` where a container has no amount."""
    containers = [
        *(workload.pod.get("initContainers") or []),
        *(workload.pod.get("containers") or []),
    ]
    amounts: dict[str, Fraction | None] = {}
    for kind in ("requests", "limits"):
        for resource in _COUNTED:
            key = f"{kind}.{resource}"
            if any(_container_amount(c, kind, resource, defaults) is None for c in containers):
                amounts[key] = None
            else:
                amounts[key] = _pod_total(workload.pod, kind, resource, defaults)
    return amounts


def _pod_total(
    pod: Mapping[str, Any], kind: str, resource: str, defaults: Mapping[str, Mapping[str, Any]]
) -> Fraction:
    def amount(container: Mapping[str, Any]) -> Fraction:
        return _container_amount(container, kind, resource, defaults) or Fraction(0)

    total = sum((amount(c) for c in pod.get("containers") or []), Fraction(0))
    sidecars = Fraction(0)
    init_peak = Fraction(0)
    for container in pod.get("initContainers") or []:
        if container.get("restartPolicy") == "Always":
            total += amount(container)
            sidecars += amount(container)
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, amount(container) + sidecars)
    return max(total, init_peak)


def _container_amount(
    container: Mapping[str, Any],
    kind: str,
    resource: str,
    defaults: Mapping[str, Mapping[str, Any]],
) -> Fraction | None:
    """A container's request or limit after the API server's defaulting (a request defaults
    to the limit) and the LimitRange's (``defaults``); ``None`` where there is none."""
    given = container.get("resources") or {}
    value = (given.get(kind) or {}).get(resource)
    if value is None and kind == "requests":
        value = (given.get("limits") or {}).get(resource)
    if value is None:
        value = defaults[kind].get(resource)
    return None if value is None else _amount(value)


def _autoscalers(workloads: Sequence[_Workload]) -> Iterator[str]:
    for workload in (w for w in workloads if w.autoscaler is not None):
        autoscaler = workload.autoscaler
        assert autoscaler is not None
        where = f"HorizontalPodAutoscaler {_namespace(autoscaler)}/{_name(autoscaler)}"
        if workload.replicas is not None:
            yield (
                f"{where} scales {workload.where}, whose spec.replicas is "
                f"{workload.replicas}: every apply would reset the replicas the autoscaler "
                "chose; leave replicas out of an autoscaled workload"
            )
        for metric in get(autoscaler, "spec", "metrics") or []:
            source = metric.get("resource") or metric.get("containerResource") or {}
            if get(source, "target", "type") != "Utilization":
                continue
            resource, only = str(source.get("name")), source.get("container")
            for container in workload.pod.get("containers") or []:
                if only is not None and container.get("name") != only:
                    continue
                if get(container, "resources", "requests", resource) is None:
                    yield (
                        f"{where} targets {resource} utilization, but container "
                        f"{container.get('name')!r} of {workload.where} requests no "
                        f"{resource}: utilization is a share of the request, so the "
                        f"autoscaler cannot scale on it; give the container a {resource} request"
                    )


def _budgets(objects: Sequence[Manifest], workloads: Sequence[_Workload]) -> Iterator[str]:
    for budget in (o for o in objects if o.get("kind") == "PodDisruptionBudget"):
        spec = budget.get("spec") or {}
        selector = spec.get("selector") or {}
        covered = [
            w
            for w in workloads
            if w.namespace == _namespace(budget) and selects(selector, w.labels)
        ]
        if not covered:
            continue
        floor, peak = sum(w.floor for w in covered), sum(w.peak for w in covered)
        for field in ("maxUnavailable", "minAvailable"):
            if spec.get(field) is None:
                continue
            problem = budget_problem(field, spec[field], floor, peak)
            if problem is not None:
                between = f"{floor} pods" if floor == peak else f"{floor} to {peak} pods"
                yield (
                    f"PodDisruptionBudget {_namespace(budget)}/{_name(budget)} of "
                    f"{', '.join(w.where for w in covered)} ({between}): spec.{problem}"
                )


def _amount(value: Any) -> Fraction:
    return quantity_value(str(value))


def _format(amount: Fraction, unit: str) -> str:
    """``amount`` in ``unit`` (a quantity suffix, as the quota writes it), exact or to three
    decimals (``~``)."""
    scale = QUANTITY_SUFFIXES.get(unit, Fraction(1))
    unit = unit if unit in QUANTITY_SUFFIXES else ""
    value = amount / scale
    if (value * 1000).denominator == 1:
        text = f"{float(value):.3f}".rstrip("0").rstrip(".")
        return f"{text}{unit}"
    return f"~{float(value):.3f}".rstrip("0").rstrip(".") + unit


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _namespace(obj: Manifest) -> str:
    return str(get(obj, "metadata", "namespace") or "")


def _name(obj: Manifest) -> str:
    return str(get(obj, "metadata", "name") or "")
