"""No secret in what we write: every environment's synth output and every snapshot file.

A leak is a Secret object with ``data``/``stringData``, a literal value under a password-like
key (``passwd``, ``REDIS_PASSWORD``, ``api_key``, …) or assigned to one in a script or config
(``password=…``, ``requirepass …``), or a string that looks like a generated key (long,
high-entropy). Findings give the place and the length of the value, never the value.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import ROOT

SNAPSHOTS = sorted((ROOT / "tests").glob("*/__snapshots__"))

_SECRET_NAME = (
    r"[\w.-]*(?:password|passwd|passphrase|pwd|token|api[-_]?key|secret[-_]?key"
    r"|private[-_]?key|requirepass|masterauth)"
)
SECRET_KEY = re.compile(_SECRET_NAME, re.IGNORECASE)
_ASSIGNMENT = re.compile(
    rf"\b(?P<name>{_SECRET_NAME})[\"']?[ \t]*[:=][ \t]*[\"']?(?P<value>[^\s\"',;]+)",
    re.IGNORECASE,
)
_REDIS_DIRECTIVE = re.compile(
    r"^[ \t]*(?P<name>requirepass|masterauth)[ \t]+[\"']?(?P<value>[^\s\"']+)",
    re.IGNORECASE | re.MULTILINE,
)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
_HEX = re.compile(r"\b[0-9a-fA-F]{32,}\b")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_PLACEHOLDER = ("$", "%", "{", "<", "(")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    return -sum(n / len(text) * math.log2(n / len(text)) for n in Counter(text).values())


def literal(value: Any) -> bool:
    """A non-empty string that is not a variable, a format placeholder or a template."""
    return (
        isinstance(value, str)
        and value.strip(" \"'") != ""
        and not value.lstrip(" \"'").startswith(_PLACEHOLDER)
    )


def text_leaks(text: str) -> Iterator[str]:
    """Leaks in free text: assignments to password-like names, generated-looking keys."""
    for pattern in (_ASSIGNMENT, _REDIS_DIRECTIVE):
        for match in pattern.finditer(text):
            if literal(match["value"]):
                line = text.count("\n", 0, match.start()) + 1
                yield (
                    f"line {line}: {match['name']!r} is given a literal value "
                    f"({len(match['value'])} characters)"
                )
    text = _DIGEST.sub("", text)  # image digests are public
    for token in _TOKEN.findall(text):
        if re.search(r"\d", token) and re.search(r"[A-Za-z]", token) and entropy(token) >= 4.0:
            yield f"a {len(token)}-character high-entropy string (entropy {entropy(token):.2f})"
    for token in _HEX.findall(text):
        if entropy(token) >= 3.0:
            yield f"a {len(token)}-character high-entropy hex string"


def value_leaks(value: Any, path: str) -> Iterator[str]:
    """Leaks in a parsed YAML value, each prefixed with its key path."""
    if isinstance(value, Mapping):
        name = value.get("name")
        if isinstance(name, str) and SECRET_KEY.fullmatch(name) and literal(value.get("value")):
            yield f"{path}.value: the variable {name!r} has a literal value"
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and SECRET_KEY.fullmatch(key) and literal(child):
                yield f"{child_path}: a password-like key has a literal value ({len(child)} chars)"
            yield from value_leaks(child, child_path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from value_leaks(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield from (f"{path}: {leak}" for leak in text_leaks(value))


def file_leaks(path: Path) -> list[str]:
    """Every leak in one file: per YAML document and object, or in its text if not YAML."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return [f"{path}: {leak}" for leak in text_leaks(text)]
    found = []
    for index, document in enumerate(documents):
        where = f"{path}: document {index}"
        if isinstance(document, Mapping) and "kind" in document:
            where = f"{path}: {document['kind']} {(document.get('metadata') or {}).get('name')}"
            for field in ("data", "stringData"):
                if document["kind"] == "Secret" and document.get(field):
                    found.append(f"{where}: {field}: a Secret with data: {sorted(document[field])}")
        found += [f"{where}: {leak}" for leak in value_leaks(document, "")]
    return found


def test_no_leak_in_any_environment(dist: Path) -> None:
    files = sorted(p for p in dist.rglob("*") if p.is_file())  # the publish's own included
    assert sorted(p.parent.name for p in dist.glob("*/*.k8s.yaml")) == ["dev", "prod", "staging"]
    assert [leak for path in files for leak in file_leaks(path)] == []


def test_no_leak_in_any_snapshot() -> None:
    files = sorted(p for folder in SNAPSHOTS for p in folder.rglob("*") if p.is_file())
    assert files, f"no snapshot files under {SNAPSHOTS}"
    assert [leak for path in files for leak in file_leaks(path)] == []


# The scanner catches leaks (generated values: this file holds no key-like literal).

KEY = base64.b64encode(hashlib.sha256(b"fixture").digest()).decode()
HEX_KEY = hashlib.sha256(b"fixture").hexdigest()
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis-passwd"}}


def env_var(name: str, value: str) -> dict[str, Any]:
    container = {"name": "api", "env": [{"name": name, "value": value}]}
    return {
        "kind": "Deployment",
        "metadata": {"name": "frontend"},
        "spec": {"containers": [container]},
    }


CONFIG = "ConfigMap redis-config: data"


def config_map(data: dict[str, str]) -> dict[str, Any]:
    return {"kind": "ConfigMap", "metadata": {"name": "redis-config"}, "data": data}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {**SECRET, "data": {"passwd": "aHVudGVyMg=="}},
            "Secret redis-passwd: data: a Secret with data: ['passwd']",
        ),
        (
            {**SECRET, "stringData": {"passwd": "hunter2"}},
            "Secret redis-passwd: stringData: a Secret with data: ['passwd']",
        ),
        (
            env_var("REDIS_PASSWORD", "hunter2"),
            "Deployment frontend: spec.containers[0].env[0].value: the variable "
            "'REDIS_PASSWORD' has a literal value",
        ),
        (
            config_map({"passwd": "hunter2"}),
            f"{CONFIG}.passwd: a password-like key has a literal value (7 chars)",
        ),
        (
            config_map({"redis.conf": "port 6379\nrequirepass hunter2\n"}),
            f"{CONFIG}.redis.conf: line 2: 'requirepass' is given a literal value (7 characters)",
        ),
        (
            config_map({"launch.sh": "#!/bin/sh\nREDIS_PASSWORD='hunter2' exec redis-server\n"}),
            f"{CONFIG}.launch.sh: line 2: 'REDIS_PASSWORD' is given a literal value (7 characters)",
        ),
        (
            config_map({"settings": f"id {KEY}"}),
            f"{CONFIG}.settings: a {len(KEY)}-character high-entropy string "
            f"(entropy {entropy(KEY):.2f})",
        ),
        (
            config_map({"settings": f"id {HEX_KEY}"}),
            f"{CONFIG}.settings: a 64-character high-entropy hex string",
        ),
    ],
    ids=[
        "secret-data",
        "secret-string-data",
        "env-value",
        "password-key",
        "redis-conf",
        "script",
        "token",
        "hex",
    ],
)
def test_fails_scanner_finds_the_leak(
    tmp_path: Path, document: dict[str, Any], expected: str
) -> None:
    path = tmp_path / "leak.k8s.yaml"
    path.write_text(yaml.safe_dump(document))
    assert f"{path}: {expected}" in file_leaks(path)


def test_fails_scanner_finds_a_leak_in_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "test_app.ambr"
    path.write_text(f"# name: test_x\n  '''\n  api_key = \"{KEY}\"\n  :\n  - [\n")
    assert file_leaks(path) == [
        f"{path}: line 3: 'api_key' is given a literal value ({len(KEY)} characters)",
        f"{path}: a {len(KEY)}-character high-entropy string (entropy {entropy(KEY):.2f})",
    ]


def test_references_and_placeholders_are_not_leaks(tmp_path: Path) -> None:
    script = (
        'password="$(cat "/etc/redis-passwd/passwd")"\n'
        'printf \'requirepass "%s"\\n\' "$quoted"\n'
        'REDISCLI_AUTH="$(cat /etc/redis-passwd/$1)"\n'
    )
    env = {
        "name": "REDIS_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "redis-passwd", "key": "passwd"}},
    }
    documents = [
        config_map({"launch.sh": script, "hash": "ce480f5d8cd9bf31"}),
        {
            "kind": "Pod",
            "spec": {"containers": [{"image": f"redis@sha256:{HEX_KEY}", "env": [env]}]},
        },
        {**SECRET, "type": "Opaque"},
    ]
    path = tmp_path / "clean.k8s.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    assert file_leaks(path) == []
