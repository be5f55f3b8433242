"""Manifests as YAML text: the one rendering used by synth, snapshots, diff and Helm export."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

Manifest = Mapping[str, Any]

_STR, _INT, _BOOL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def _node(value: Any, other: yaml.representer.SafeRepresenter) -> yaml.Node:
    """The YAML node of a JSON-like value; multi-line strings in block style, read as files.

    Built directly rather than through PyYAML's representer (which is pure Python and half
    of the rendering time); the C emitter still decides quoting, so the text is the same. A
    mapping or list holds its items as a tuple, which the emitter reads as a list and
    ``_Dumper`` can hash. Values other than strings, integers, booleans, mappings and lists go
    to ``other``.
    """
    if isinstance(value, str):
        return yaml.ScalarNode(_STR, value, style="|" if "\n" in value else None)
    if isinstance(value, bool):
        return yaml.ScalarNode(_BOOL, "true" if value else "false")
    if isinstance(value, int):
        return yaml.ScalarNode(_INT, str(value))
    if isinstance(value, dict | Mapping):  # a dict first: no ABC look-up for most values
        pairs = tuple([(_key(k), _node(v, other)) for k, v in value.items()])
        return yaml.MappingNode(_MAP, pairs, flow_style=False)
    if isinstance(value, list | tuple):
        items = tuple([_node(item, other) for item in value])
        return yaml.SequenceNode(_SEQ, items, flow_style=False)
    return other.represent_data(value)  # floats and nulls, as PyYAML writes them


def _key(key: Any) -> yaml.ScalarNode:
    if not isinstance(key, str):
        raise TypeError(f"manifest key {key!r} is a {type(key).__name__}: expected a string")
    return yaml.ScalarNode(_STR, key)


_RESOLVER = yaml.resolver.Resolver()
"""PyYAML's resolver, as the dumper has it (the default one has no path resolvers, so its
answer depends only on the question)."""


class _Dumper(yaml.CSafeDumper):
    """PyYAML's C emitter, with the implicit tag of each scalar resolved once per stream.

    The emitter asks the (pure Python) resolver twice for every scalar whether its text would
    read back as a string; a stream of manifests repeats most of its values (names, labels,
    ports), and ``functools.lru_cache`` answers a repeated question without entering Python.
    The cache wraps ``_RESOLVER``, not the dumper's own method: a dumper holding its own bound
    method is a reference cycle, which kept each stream's dumper and every node it wrote alive
    until a full garbage collection (about 1 MiB of garbage a prod stack).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resolve = functools.lru_cache(maxsize=None)(_RESOLVER.resolve)  # type: ignore[method-assign]


def to_yaml(objects: Iterable[Manifest]) -> str:
    """Render manifests as one multi-document YAML stream, keys in the order given."""
    other = yaml.representer.SafeRepresenter()
    text: str = yaml.serialize_all([_node(o, other) for o in objects], Dumper=_Dumper, width=1000)
    return text


def from_yaml(text: str) -> list[dict[str, Any]]:
    """Parse a multi-document YAML stream of manifests."""
    documents = yaml.load_all(text, Loader=yaml.CSafeLoader)
    return [document for document in documents if document is not None]
