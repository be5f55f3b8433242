"""Manifests as YAML text: the one rendering used by synth, snapshots, diff and Helm export."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

Manifest = Mapping[str, Any]


class _Dumper(yaml.CSafeDumper):
    """Block style for multi-line strings (scripts, configs), so reviewers read them as files."""


def _represent_str(dumper: yaml.CSafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(objects: Iterable[Manifest]) -> str:
    """Render manifests as one multi-document YAML stream, keys in the order given."""
    return yaml.dump_all(
        objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000
    )


def from_yaml(text: str) -> list[dict[str, Any]]:
    """Parse a multi-document YAML stream of manifests."""
    return [document for document in yaml.safe_load_all(text) if document is not None]
