"""The library's bridge to the jsii kernel: many API objects per round trip.

Every jsii call is a round trip to the Node process (about 0.5 ms on a small machine), and
``Chart.to_json()`` pays a further one per value it sends back. So the constructs build their
manifests as plain data and hand each batch over as one JSON text; ``chart_manifests`` reads a
whole chart back the same way. In Node they are ordinary ``cdk8s.ApiObject`` children, so
``cdk8s synth``, chart labels, namespaces and JSON patches behave as for any construct.
"""

from __future__ import annotations

import builtins
import json
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import cdk8s
import jsii
from constructs import Construct, IConstruct

Manifest = dict[str, Any]
"""A Kubernetes object as plain JSON data (camelCase keys, as in a manifest file)."""

__jsii_assembly__ = jsii.JSIIAssembly.load(
    "journal-k8s-bulk", "0.1.0", "journal_k8s", "journal-k8s-bulk@0.1.0.jsii.tgz"
)


class _Manifests(metaclass=jsii.JSIIMeta, jsii_type="journal-k8s-bulk.Manifests"):
    @jsii.member(jsii_name="define")
    @builtins.classmethod
    def define(cls, scope: Construct, objects: str, patches: str) -> None:
        jsii.sinvoke(cls, "define", [scope, objects, patches])

    @jsii.member(jsii_name="sameChart")
    @builtins.classmethod
    def same_chart(cls, a: IConstruct, b: IConstruct) -> bool:
        return typing.cast(bool, jsii.sinvoke(cls, "sameChart", [a, b]))

    @jsii.member(jsii_name="render")
    @builtins.classmethod
    def render(cls, chart: cdk8s.Chart) -> str:
        return typing.cast(str, jsii.sinvoke(cls, "render", [chart]))


def define(
    scope: Construct,
    objects: Mapping[str, Manifest],
    patches: Iterable[tuple[str, dict[str, Any]]] = (),
) -> None:
    """Define one ``ApiObject`` child of ``scope`` per construct id of ``objects``, in order.

    Each ``(id, operation)`` of ``patches`` then adds a JSON patch (an RFC 6902 ``add`` or
    ``remove``) to the ``ApiObject`` child ``id`` of ``scope``; all in one round trip.
    """
    _Manifests.define(scope, json.dumps(list(objects.items())), json.dumps(list(patches)))


def api_object(scope: Construct, id: str) -> cdk8s.ApiObject:
    """The ``ApiObject`` child ``id`` of ``scope`` (the escape hatch to one Kubernetes object)."""
    # jsii already returns the child as an ApiObject; ApiObject.of would be one more round trip.
    return typing.cast(cdk8s.ApiObject, scope.node.find_child(id))


def same_chart(a: IConstruct, b: IConstruct) -> bool:
    """Whether ``a`` and ``b`` belong to the same chart, in one round trip."""
    return _Manifests.same_chart(a, b)


def chart_manifests(chart: cdk8s.Chart) -> list[Manifest]:
    """``chart.to_json()`` (the same manifests, in the same order), in one round trip."""
    manifests: list[Manifest] = json.loads(_Manifests.render(chart))
    return manifests
