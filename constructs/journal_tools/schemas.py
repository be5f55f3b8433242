"""Strict schema validation of the synthesized manifests against Kubernetes 1.27 … 1.37.

The schemas are the ``-strict`` JSON schemas shipped by the ``kubernetes-validate`` package:
they reject unknown fields (the book's ``resources: request:``) and APIs a version no longer
serves (``extensions/v1beta1``). Its ``validate()`` parses the 1 MB definitions file again on
every call (11 s for three environments and eleven versions); here each version's definitions
are parsed once and each kind's validator is built once.

Custom resources (the Gateway API's HTTPRoute and ReferenceGrant) are checked against their
CRD files in ``imports/crds/``, made strict, and against the CRDs' CEL rules: see ``crds``.

Command line: ``python -m journal_tools.schemas dist`` validates ``dist/*/*.k8s.yaml`` (or the
files given), prints every error and a summary table, and exits 1 on any error.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml
from referencing import Registry, Resource

from journal_k8s.grammar import canonical_quantity

from . import crds
from .manifests import Manifest, from_yaml

VERSIONS = tuple(f"1.{minor}" for minor in range(27, 38))
"""The Kubernetes versions every manifest must be valid for."""

_SCHEMAS = files("kubernetes_validate") / "kubernetes-json-schema"


def _folder(version: str) -> Any:
    return _SCHEMAS / f"v{version}.0-local-strict"


@functools.cache
def _definitions(version: str) -> Registry[Any]:
    """The shared definitions of one version, parsed once."""
    contents = json.loads((_folder(version) / "_definitions.json").read_text(encoding="utf-8"))
    return Resource.from_contents(contents) @ Registry()


@functools.cache
def _validator(version: str, api_version: str, kind: str) -> Any:
    """The strict validator of one kind in one version; ``None`` if the version lacks the API."""
    custom = crds.versions().get((api_version, kind))
    if custom is not None:
        return jsonschema.Draft202012Validator(
            crds.json_schema(custom), registry=_definitions(version)
        )
    schema_file = _schema_file(version, api_version, kind)
    if schema_file is None:
        return None
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    registry = Resource.from_contents(schema) @ _definitions(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _schema_file(version: str, api_version: str, kind: str) -> Path | None:
    """The package's schema of a built-in kind (``networking.k8s.io/v1`` ``Ingress``:
    ``ingress-networking-v1.json``); ``None`` if the version lacks it."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = _folder(version) / f"{kind.lower()}-{group_version}.json"
    return schema_file if schema_file.is_file() else None


def validate(obj: Manifest, version: str) -> list[str]:
    """The schema errors of one manifest in one Kubernetes version, as ``field: message``."""
    api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
    validator = _validator(version, api_version, kind)
    if validator is None:
        return [
            f"apiVersion: {api_version!r} kind {kind!r} is not served by Kubernetes {version}: "
            "expected an API of that version (e.g. apps/v1, networking.k8s.io/v1)"
        ]
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    messages = [f"{_field(error.absolute_path)}: {error.message}" for error in errors]
    custom = crds.versions().get((api_version, kind))
    if custom is not None and not messages:
        messages = crds.cel_errors(obj, custom)
    return messages


_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


@functools.cache
def _kind_schema(version: str, api_version: str, kind: str) -> tuple[Any, Any] | None:
    """A built-in kind's schema and the shared definitions; ``None`` for custom resources."""
    if crds.versions().get((api_version, kind)) is not None:
        return None
    schema_file = _schema_file(version, api_version, kind)
    if schema_file is None:
        return None
    definitions = json.loads((_folder(version) / "_definitions.json").read_text(encoding="utf-8"))
    return json.loads(schema_file.read_text(encoding="utf-8")), definitions["$defs"]


def stored_form_problems(obj: Manifest, version: str = VERSIONS[0]) -> list[str]:
    """Where ``obj`` differs from what the API server stores, by the kind's strict schema.

    A field the schema types as a quantity must be a string in canonical form
    (``journal_k8s.canonical_quantity``: ``"500m"``, not ``0.5``, ``"30"``, not ``30``), and a
    list or a map (``additionalProperties``) may be empty only where the schema requires the
    field: the server drops an empty optional one (``externalIPs: []``, ``labels: {}``).
    Structs (``emptyDir: {}``) are kept by the server; custom resources are stored as written.
    """
    found = _kind_schema(version, str(obj.get("apiVersion")), str(obj.get("kind")))
    if found is None:
        return []
    schema, definitions = found
    problems: list[str] = []

    def walk(value: Any, node: Any, path: tuple[str | int, ...], required: bool) -> None:
        while "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name == _QUANTITY:
                if not isinstance(value, str) or canonical_quantity(value) != value:
                    stored = canonical_quantity(value)
                    problems.append(
                        f"{_field(path)}: {value!r} is stored as {stored!r}: write the quantity "
                        "as the API server stores it"
                    )
                return
            node = definitions[name]
        if isinstance(value, dict):
            properties = node.get("properties") or {}
            if not value and not properties and not required:
                problems.append(f"{_field(path)}: an empty map, which the API server drops")
            for key, child in value.items():
                if key in properties:
                    walk(child, properties[key], (*path, key), key in node.get("required", ()))
                elif isinstance(node.get("additionalProperties"), dict):
                    walk(child, node["additionalProperties"], (*path, key), True)
        elif isinstance(value, list):
            if not value and not required:
                problems.append(f"{_field(path)}: an empty list, which the API server drops")
            for index, item in enumerate(value):
                walk(item, node.get("items") or {}, (*path, index), True)

    walk(obj, schema, (), True)
    return problems


def _field(path: Sequence[str | int]) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.lstrip(".") or "(object)"


def _name(obj: Manifest) -> str:
    metadata = obj.get("metadata") or {}
    namespace = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    return f"{obj.get('kind')} {namespace}{metadata.get('name')}"


def manifest_files(paths: Sequence[Path]) -> list[Path]:
    """The files to check: each file given, and ``<folder>/*/*.k8s.yaml`` of each folder."""
    found: list[Path] = []
    for path in paths:
        found += sorted(path.glob("*/*.k8s.yaml")) if path.is_dir() else [path]
    return found


def _table(rows: list[tuple[str, ...]]) -> str:
    """Rows as text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            [
                row[0].ljust(widths[0]),
                *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
            ]
        )
        for row in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Validate the manifests, print errors and a table, return 0 if all are valid, else 1."""
    parser = argparse.ArgumentParser(
        prog="python -m journal_tools.schemas",
        description=f"Strict schema validation for Kubernetes {VERSIONS[0]} … {VERSIONS[-1]}.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="synth output folders or files")
    paths = manifest_files(parser.parse_args(argv).paths)
    if not paths:
        print("no manifests found (expected <folder>/<env>/*.k8s.yaml): run the synth first")
        return 1
    rows: list[tuple[str, ...]] = []
    failed = 0
    for path in paths:
        try:
            objects = from_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            print(f"ERROR {path}: cannot be read as YAML: {error}")
            failed += 1
            continue
        counts = []
        for version in VERSIONS:
            count = 0
            for obj in objects:
                for message in validate(obj, version):
                    print(f"ERROR {path}: {_name(obj)}: Kubernetes {version}: {message}")
                    count += 1
            counts.append(count)
            failed += count
        for obj in objects:
            for message in stored_form_problems(obj):
                print(f"ERROR {path}: {_name(obj)}: not as the API server stores it: {message}")
                failed += 1
        rows.append((str(path), str(len(objects)), *(str(c) if c else "ok" for c in counts)))
    print(_table([("manifests", "objects", *VERSIONS), *rows]))
    print(
        f"{failed} error(s)"
        if failed
        else f"all valid for Kubernetes {VERSIONS[0]} … {VERSIONS[-1]} (strict)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
