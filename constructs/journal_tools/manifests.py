"""Manifests as YAML text: the one rendering used by synth, snapshots, diff and Helm export."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from journal_k8s.rules import shown

Manifest = Mapping[str, Any]

_STR, _INT, _BOOL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_RESOLVER = yaml.resolver.Resolver()
"""PyYAML's resolver, as its dumpers have it (no path resolvers: the answer depends only on
the question)."""
_MAPPING_START = yaml.MappingStartEvent(None, _MAP, True, flow_style=False)
_MAPPING_END = yaml.MappingEndEvent()
_SEQUENCE_START = yaml.SequenceStartEvent(None, _SEQ, True, flow_style=False)
_SEQUENCE_END = yaml.SequenceEndEvent()
_PLAIN = frozenset({str, int, bool})
"""The types of most values: no ABC look-up for them."""


class _Events:
    """The events PyYAML's serializer makes of JSON-like manifests, made directly.

    PyYAML's C serializer walks a node tree, looks every node up for anchors (manifests share no
    object) and asks the pure-Python resolver about every scalar; that is most of the rendering
    time. Here each distinct scalar's event is made once per stream (the emitter only reads
    events, so one can stand at many places) with the implicit flags that serializer gives it,
    and PyYAML's C emitter still decides quoting and layout: the text is the same.
    """

    def __init__(self) -> None:
        self.events: list[yaml.Event] = [yaml.StreamStartEvent()]
        self._keys: dict[str, yaml.ScalarEvent] = {}
        self._scalars: dict[Any, yaml.ScalarEvent] = {}
        self._other = yaml.representer.SafeRepresenter()

    def document(self, value: Manifest) -> None:
        self.events.append(yaml.DocumentStartEvent(explicit=False))
        self._add(value)
        self.events.append(yaml.DocumentEndEvent(explicit=False))

    def _add(self, value: Any) -> None:
        kind, events = type(value), self.events
        if kind is dict:
            events.append(_MAPPING_START)
            keys = self._keys
            for key, item in value.items():
                events.append(keys.get(key) or self._key(key))
                self._add(item)
            events.append(_MAPPING_END)
        elif kind is list:
            events.append(_SEQUENCE_START)
            for item in value:
                self._add(item)
            events.append(_SEQUENCE_END)
        elif kind not in _PLAIN and isinstance(value, Mapping):
            self._add(dict(value))
        elif kind is tuple:
            self._add(list(value))
        else:
            # Under the string itself, or (type, value) for others: True == 1.
            index = value if kind is str else (kind, value)
            found = self._scalars.get(index)
            if found is None:
                found = self._scalars[index] = self._scalar(value)
            events.append(found)

    def _key(self, key: Any) -> yaml.ScalarEvent:
        if not isinstance(key, str):
            raise TypeError(f"manifest key {key!r} is a {type(key).__name__}: expected a string")
        event = self._keys[key] = self._scalar(key)
        return event

    def _scalar(self, value: Any) -> yaml.ScalarEvent:
        """A scalar's event: strings (multi-line ones as blocks, read as files), integers and
        booleans directly; floats, nulls and dates as PyYAML's representer writes them."""
        if isinstance(value, str):
            tag, text, style = _STR, value, "|" if "\n" in value else None
        elif isinstance(value, bool):
            tag, text, style = _BOOL, "true" if value else "false", None
        elif isinstance(value, int):
            tag, text, style = _INT, str(value), None
        else:
            try:
                node = self._other.represent_data(value)
            except yaml.representer.RepresenterError:
                node = None
            if not isinstance(node, yaml.ScalarNode):
                raise TypeError(
                    f"{shown(value)} cannot be part of a manifest: expected a string, a number, "
                    "a boolean, null, a map or a list"
                )
            tag, text, style = node.tag, node.value, node.style
        return yaml.ScalarEvent(None, tag, _implicit(tag, text), text, style=style)


@functools.lru_cache(maxsize=4096)
def _implicit(tag: str, text: str) -> tuple[bool, bool]:
    """Whether ``text`` reads back as ``tag`` when plain, and when quoted: the question PyYAML's
    serializer asks its (pure Python) resolver; every stack asks it again of the same keys,
    labels and names."""
    plain, quoted = (
        _RESOLVER.resolve(yaml.ScalarNode, text, flags) == tag  # type: ignore[no-untyped-call]
        for flags in ((True, False), (False, True))
    )
    return plain, quoted


def to_yaml(objects: Iterable[Manifest]) -> str:
    """Render manifests as one multi-document YAML stream, keys in the order given."""
    stream = _Events()
    for manifest in objects:
        stream.document(manifest)
    stream.events.append(yaml.StreamEndEvent())
    text: str = yaml.emit(stream.events, Dumper=yaml.CSafeDumper, width=1000)
    return text


def from_yaml(text: str) -> list[dict[str, Any]]:
    """Parse a multi-document YAML stream of manifests."""
    documents = yaml.load_all(text, Loader=yaml.CSafeLoader)
    return [document for document in documents if document is not None]
