"""The library's bridge to the jsii kernel: many typed API objects per round trip.

Every jsii call is a round trip to the Node process (about 0.5 ms on a small machine), and
``Chart.to_json()`` pays a further one per value it sends back. So the constructs build their
objects as generated Kubernetes L1 structs in Python (no round trip), and hand each batch over
as one JSON text of jsii names, with the Quantity and IntOrString objects beside it by
reference; in Node the generated code renders them. ``chart_manifests`` reads a whole chart back
the same way. In Node they are ordinary ``cdk8s.ApiObject`` children, so ``cdk8s synth``, chart
labels, namespaces and JSON patches behave as for any construct. Node only transports: the
rules over the final manifests are Python (``rules``), called back at every synth.
"""

from __future__ import annotations

import enum
import functools
import json
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cdk8s
import jsii
from constructs import Construct, IConstruct

from . import _capacity, rules
from ._jsii import IRules, Manifests
from ._kplus import ASSEMBLY, k8s, kplus
from .grammar import canonical_quantity

Manifest = dict[str, Any]
"""A Kubernetes object as plain JSON data (camelCase keys, as in a manifest file)."""

Struct = Any
"""A jsii struct: an L1 ``k8s.Kube<Kind>Props`` or ``kplus.ServiceProps``, built in Python."""

Patch = tuple[str, dict[str, Any]]
"""``(child id, RFC 6902 operation)``; a value may hold structs and Quantity objects."""

_STRUCT = "$jsii.struct"
_REF = "$jsii.ref"
_ENUM = "$jsii.enum"
_MANIFEST = "$manifest"
_LAZY = "$lazy"


@jsii.implements(IRules)
class _Python:
    """What Node calls back at synth: the library's rules (``rules.LIBRARY_RULES``) over the
    final manifests of the app (cdk8s reports each problem under its object's construct path),
    and the values constructs render from their private state (``lazy``)."""

    def __init__(self) -> None:
        self.renders: list[Callable[[], Any]] = []
        self.sent: list[Manifest] = []
        """The manifests of the last validation, which ``chart_manifests`` reads by index."""

    def validate(self, objects: str) -> str:
        found = [(path, obj, own) for path, obj, own in json.loads(objects)]
        self.sent = [obj for _, obj, _ in found]
        problems = rules.library_problems(found) + _capacity_problems(found)
        return json.dumps([(path or None, message) for path, message in problems])

    def render(self, key: float) -> Any:
        return self.renders[int(key)]()


def _capacity_problems(found: Sequence[tuple[str, Manifest, bool]]) -> list[tuple[str, str]]:
    """``_capacity.problems`` of the app (the journal constructs' objects are its own), each
    under the path of the object it starts with."""
    paths = {rules.where(obj): path for path, obj, _ in found}
    problems = []
    own = [obj for _, obj, made in found if made]
    for message in _capacity.problems([obj for _, obj, _ in found], own):
        named = [w for w in paths if message.startswith((f"{w}:", f"{w} "))]
        problems.append((paths[max(named, key=len)] if named else "", message))
    return problems


_PYTHON = _Python()
Manifests.use_rules(_PYTHON)


@dataclass(frozen=True)
class _Lazy:
    key: int


def same_object(first: object, second: object) -> bool:
    """Whether two jsii proxies stand for one object in Node (a getter such as
    ``workload.containers`` makes a new proxy at each call)."""
    refs = [getattr(value, "__jsii_ref__", None) for value in (first, second)]
    return first is second or (refs[0] is not None and refs[0].ref == getattr(refs[1], "ref", None))


def lazy(render: Callable[[], Any]) -> Any:
    """A value that ``render`` makes at synth, before any JSON patch applies: a construct keeps
    private state and renders it once (as cdk8s-plus objects do with ``cdk8s.Lazy``)."""
    _PYTHON.renders.append(render)
    return _Lazy(len(_PYTHON.renders) - 1)


@functools.cache
def quantity(value: str | int) -> k8s.Quantity:
    """``k8s.Quantity`` of a string or a number, in the form the API server stores it.

    Every quantity the library writes passes here, a caller's ``k8s.Quantity`` too (see
    ``_Encoder``): ``30`` becomes ``"30"``, ``"0.5"`` becomes ``"500m"``
    (``grammar.canonical_quantity``). Made once per value (each is a round trip).
    """
    made = k8s.Quantity.from_string(canonical_quantity(value))
    _CANONICAL.add(id(made))
    return made


_CANONICAL: set[int] = set()
"""The ``k8s.Quantity`` objects ``quantity`` made (kept alive by its cache)."""


@functools.cache
def int_or_string(value: int | str) -> k8s.IntOrString:
    """``k8s.IntOrString`` of a number or a name, made once per value."""
    if isinstance(value, str):
        return k8s.IntOrString.from_string(value)
    return k8s.IntOrString.from_number(value)


def _number(value: str | float) -> str | int:
    """A ``k8s.Quantity``'s value as ``canonical_quantity`` takes it (a float as its text)."""
    return value if isinstance(value, str | int) else repr(value)


class _Encoder:
    """Writes structs as the JSON the generated ``toJson_*`` functions read (jsii names);
    jsii objects (Quantity, IntOrString) travel beside the text, by reference.

    ``json.dumps`` walks the data in C and asks ``_default`` only for what JSON lacks (a
    struct, an enum member, a jsii object): most of a batch is plain maps, lists and strings.
    """

    def __init__(self) -> None:
        self.refs: list[Any] = []
        self._ref_index: dict[int, int] = {}

    def dumps(self, data: Any) -> str:
        """``data`` as JSON text, with its structs, enum members and jsii objects encoded."""
        return json.dumps(data, default=self._default, check_circular=False)

    def struct(self, value: Struct | SelectingService | Manifest) -> dict[str, Any]:
        """A marker that Node renders with the struct's generated ``toJson_*`` (its values are
        encoded by ``dumps``)."""
        if isinstance(value, Typed):
            kind = getattr(value.kind, "__jsii_type__")  # noqa: B009 (set by jsii's metaclass)
            return {_MANIFEST: value.manifest, "class": kind}
        if isinstance(value, dict):
            return {_MANIFEST: value}
        if isinstance(value, SelectingService):
            data = {**self._default(value.props), "$selectLabels": dict(value.select_labels)}
            return {_STRUCT: {"fqn": f"{ASSEMBLY}.ServiceProps", "data": data}}
        return {_STRUCT: {"fqn": type(value).__jsii_type__, "data": value}}

    def _default(self, value: Any) -> Any:
        kind = type(value)
        names = getattr(kind, "__jsii_name_mapping__", None)
        if names is not None:
            return {names[k]: v for k, v in value._values.items() if v is not None}
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, enum.Enum):
            return {_ENUM: [kind.__jsii_type__, value.value]}
        if kind is _Lazy:
            return {_LAZY: value.key}
        if isinstance(value, k8s.Quantity) and id(value) not in _CANONICAL:
            value = quantity(_number(value.value))  # a caller's own: one round trip to read
        if hasattr(value, "__jsii_ref__"):
            index = self._ref_index.setdefault(id(value), len(self.refs))
            if index == len(self.refs):
                self.refs.append(value)
            return {_REF: index}
        raise TypeError(f"{value!r} cannot be part of a Kubernetes object")


def crd_json(value: Any, enum_values: Mapping[enum.Enum, str]) -> Any:
    """A struct of classes ``cdk8s import`` made of CRDs (or a list, map or enum in one) as
    Kubernetes JSON, keys sorted, rendered in Python (no round trip).

    jsii's Python enums carry the member name (``PATH_PREFIX``), the value lives in Node:
    ``enum_values`` gives the Kubernetes value of each member used.
    """
    mapping = getattr(type(value), "__jsii_name_mapping__", None)
    if mapping is not None:
        fields = {mapping[k]: crd_json(v, enum_values) for k, v in value._values.items()}
        return dict(sorted(fields.items()))
    if isinstance(value, enum.Enum):
        return enum_values[value]
    if isinstance(value, list):
        return [crd_json(v, enum_values) for v in value]
    if isinstance(value, Mapping):
        return {k: crd_json(v, enum_values) for k, v in sorted(value.items())}
    return value


def jsii_json(value: Any) -> Any:
    """A struct (or data holding structs) as plain JSON with jsii names, for JSON patches on
    cdk8s-plus objects (applied before their generated code renames fields).

    Raises:
        TypeError: ``value`` holds a Quantity or IntOrString (they live in Node).
    """
    encoder = _Encoder()
    data = json.loads(encoder.dumps(value))
    if encoder.refs:
        raise TypeError(f"{value!r} holds Quantity or IntOrString values: it is not plain JSON")
    return data


@dataclass(frozen=True)
class Typed:
    """A manifest rendered in Python, to define as an instance of its L1 or CRD class ``kind``
    (``k8s.KubeIngress``, a Gateway API class, …) holding exactly that manifest."""

    kind: type
    manifest: Manifest


@dataclass(frozen=True)
class SelectingService:
    """A ``kplus.Service`` to define: its props, and the pod labels it selects."""

    props: kplus.ServiceProps
    select_labels: Mapping[str, str]


Body = Struct | SelectingService | Typed | Manifest
"""What ``define`` turns into one child construct."""


def define(
    scope: Construct,
    objects: Mapping[str, Body],
    patches: Iterable[Patch] = (),
    *,
    elsewhere: Iterable[tuple[Construct, str, Body]] = (),
) -> str | None:
    """Define one child of ``scope`` per construct id of ``objects``, in order, in one round trip.

    A ``k8s.Kube<Kind>Props`` becomes a ``cdk8s.ApiObject`` with the manifest the generated
    ``k8s.Kube<Kind>`` renders; a ``SelectingService`` becomes a ``kplus.Service``; a plain
    ``Manifest`` (rendered in Python, e.g. from the Gateway API classes) an ApiObject. Each
    ``(scope, id, body)`` of ``elsewhere`` is defined the same way under another scope. Each
    ``(id, operation)`` of ``patches`` then adds a JSON patch (an RFC 6902 ``add`` or
    ``remove``) to the child ``id``; a patch value that is a struct, or a list of structs, is
    rendered by the generated code too. The first call in an app makes the
    library's rules (``rules.LIBRARY_RULES``) a validation of the app.

    Returns:
        The namespace of ``scope``'s chart (``None`` where it sets none).
    """
    encoder = _Encoder()
    scopes: list[IConstruct] = [scope]
    items = [[0, id, encoder.struct(body)] for id, body in objects.items()]
    for other, id, body in elsewhere:
        if other not in scopes:
            scopes.append(other)
        items.append([scopes.index(other), id, encoder.struct(body)])
    operations = [[0, id, _operation(encoder, op)] for id, op in patches]
    found: list[str | None] = json.loads(
        Manifests.define(
            scopes,
            encoder.dumps(items),
            encoder.refs,
            encoder.dumps(operations),
        )
    )
    return found[0]


def _operation(encoder: _Encoder, operation: dict[str, Any]) -> dict[str, Any]:
    value = operation.get("value")
    if isinstance(value, list):
        return {**operation, "value": [_patch_value(encoder, v) for v in value]}
    if value is not None:
        return {**operation, "value": _patch_value(encoder, value)}
    return operation


def _patch_value(encoder: _Encoder, value: Any) -> Any:
    if getattr(type(value), "__jsii_name_mapping__", None) is not None:
        return encoder.struct(value)
    return value


def api_object(scope: Construct, id: str) -> cdk8s.ApiObject:
    """The ``ApiObject`` child ``id`` of ``scope`` (the escape hatch to one Kubernetes object)."""
    # jsii already returns the child as an ApiObject; ApiObject.of would be one more round trip.
    return typing.cast(cdk8s.ApiObject, scope.node.find_child(id))


def service(scope: Construct, id: str) -> kplus.Service:
    """The ``kplus.Service`` child ``id`` of ``scope``."""
    return typing.cast(kplus.Service, scope.node.find_child(id))


def namespaces(*constructs: IConstruct) -> list[str | None]:
    """The namespace of each construct's chart (``None`` where it has none), in one round trip."""
    found: list[str | None] = json.loads(Manifests.namespaces(list(constructs)))
    return found


def describe(*constructs: IConstruct) -> list[dict[str, Any]]:
    """What Node knows of constructs made elsewhere (see ``Manifests.describe``), in one trip."""
    found: list[dict[str, Any]] = json.loads(Manifests.describe(list(constructs)))
    return found


def chart_manifests(chart: cdk8s.Chart) -> list[Manifest]:
    """``chart.to_json()`` (the same manifests, in the same order), in one round trip: those
    the library's validation read in this synth are not sent twice."""
    found: list[Manifest | int] = json.loads(Manifests.render(chart))
    sent, _PYTHON.sent = _PYTHON.sent, []
    return [sent[m] if isinstance(m, int) else m for m in found]
