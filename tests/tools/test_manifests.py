"""The YAML rendering: PyYAML's own text, with multi-line strings in block style."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import yaml

from journal_tools.manifests import from_yaml, to_yaml
from support import ROOT

SAMPLE: list[dict[str, Any]] = [
    {
        "kind": "Sample",
        "numbers": [0, -3, 1.5, 1e20, float("inf")],
        "flags": [True, False, None],
        "strings": ["yes", "0777", "16", "", "a: b", "é", "- x", "null", "~"],
        "nested": {"empty": {}, "none": [], "deep": [{"k": "v"}]},
    },
    {"kind": "Other", "date": datetime.date(2026, 11, 24)},
]


def pyyaml(objects: list[dict[str, Any]]) -> str:
    """What PyYAML's representer writes for the same objects (strings without newlines)."""
    return yaml.dump_all(
        objects, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False, width=1000
    )


def test_is_the_text_pyyaml_writes() -> None:
    assert to_yaml(SAMPLE) == pyyaml(SAMPLE)
    assert from_yaml(to_yaml(SAMPLE)) == SAMPLE


def test_multi_line_strings_are_blocks_that_read_back_the_same() -> None:
    script = {"data": {"launch.sh": "#!/bin/sh\nset -eu\nexec redis-server\n", "x": "a\nb"}}
    text = to_yaml([script])
    assert "launch.sh: |\n    #!/bin/sh\n" in text and "x: |-\n    a\n    b\n" in text
    assert from_yaml(text) == [script]


def test_synthesized_manifests_round_trip() -> None:
    text = (
        ROOT
        / "tests"
        / "tools"
        / "__snapshots__"
        / "test_app"
        / "test_environment_snapshot[prod].k8s.yaml"
    ).read_text()
    assert to_yaml(from_yaml(text)) == text


@pytest.mark.parametrize("key", [1, None, ("a",)])
def test_refuses_a_key_that_is_not_a_string(key: object) -> None:
    with pytest.raises(TypeError, match=re.escape(f"manifest key {key!r} is a")):
        to_yaml([{"metadata": {key: "x"}}])


def test_a_map_shared_by_two_fields_is_written_twice_without_an_alias() -> None:
    """Constructs reuse one labels dict for metadata and selector; YAML anchors and aliases
    (which PyYAML's representer would write for it) are not for Kubernetes manifests."""
    labels = {"app.kubernetes.io/name": "redis"}
    manifest = {"metadata": {"labels": labels}, "spec": {"selector": {"matchLabels": labels}}}
    text = to_yaml([manifest, manifest])
    assert "&" not in text and "*" not in text
    assert from_yaml(text) == [manifest, manifest]


def test_a_value_yaml_cannot_write_is_refused_by_name() -> None:
    expected = r"frozenset\(\{1, 2\}\) cannot be part of a manifest: expected a string"
    with pytest.raises(TypeError, match=expected):
        to_yaml([{"spec": {"ports": frozenset({1, 2})}}])
