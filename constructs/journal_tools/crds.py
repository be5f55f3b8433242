"""Validation of custom resources as the API server does it, from the CRD files themselves.

For each served version of each CRD in ``imports/crds/`` (the Gateway API's HTTPRoute and
ReferenceGrant): the object is defaulted from the schema's ``default`` values, then checked
against the ``openAPIV3Schema`` made strict (an unknown field is an error, as with
``kubectl --validate=strict``; ``metadata`` is checked as Kubernetes ``ObjectMeta``), then
every CEL rule (``x-kubernetes-validations``) is evaluated where it is declared, with ``self``
bound to that node, by the ``common-expression-language`` package. Property names that CEL
cannot spell are escaped as the API server does (``namespace`` -> ``__namespace__``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cel
import yaml

CRDS = Path(__file__).resolve().parents[2] / "imports" / "crds"
"""The CRD files of the repository (``make imports`` reads the same)."""

OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
"""Where the Kubernetes schemas of ``kubernetes-validate`` define ``ObjectMeta``."""

# CEL reserved words: a property so named is written __word__ in a rule (Kubernetes escaping).
_RESERVED = frozenset(
    {
        *("true", "false", "null", "in", "as", "break", "const", "continue", "else", "for"),
        *("function", "if", "import", "let", "loop", "package", "namespace", "return", "var"),
        *("void", "while"),
    }
)
_ESCAPES = (("__", "__underscores__"), (".", "__dot__"), ("-", "__dash__"), ("/", "__slash__"))

Json = Any


@dataclass(frozen=True)
class Version:
    """One served version of a CRD: its identity and its ``openAPIV3Schema``."""

    api_version: str
    kind: str
    schema: Mapping[str, Any]


@functools.cache
def versions(folder: Path = CRDS) -> dict[tuple[str, str], Version]:
    """Every served version of every CRD under ``folder``, by ``(apiVersion, kind)``."""
    found: dict[tuple[str, str], Version] = {}
    for path in sorted(folder.rglob("*.yaml")):
        for crd in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True):
                    api_version = f"{group}/{version['name']}"
                    schema = version["schema"]["openAPIV3Schema"]
                    found[api_version, kind] = Version(api_version, kind, schema)
    return found


def json_schema(version: Version) -> dict[str, Any]:
    """The strict JSON schema of ``version``: unknown fields refused, ``metadata`` checked."""
    schema: dict[str, Any] = _strict(version.schema)
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string", "enum": [version.api_version]}
    properties["kind"] = {"type": "string", "enum": [version.kind]}
    properties["metadata"] = {"$ref": OBJECT_META}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return schema


def _strict(node: Json) -> Json:
    """A copy of a structural schema where every object with ``properties`` is closed."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items() if key != "default"}
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if "properties" in node:
        # Property schemas are data keyed by field name: never treat a name as a keyword.
        out["properties"] = {name: _strict(sub) for name, sub in node["properties"].items()}
    return out


def defaulted(obj: Json, schema: Mapping[str, Any]) -> Json:
    """A copy of ``obj`` with the schema's ``default`` values filled in, as the API server does."""
    if isinstance(obj, dict):
        out = {}
        properties = schema.get("properties") or {}
        for name, sub in properties.items():
            if name not in obj and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
        for name, value in obj.items():
            sub = properties.get(name) or schema.get("additionalProperties")
            out[name] = defaulted(value, sub) if isinstance(sub, Mapping) else value
        for name in out.keys() - obj.keys():
            out[name] = defaulted(out[name], properties[name])
        return out
    if isinstance(obj, list) and isinstance(schema.get("items"), Mapping):
        return [defaulted(item, schema["items"]) for item in obj]
    return obj


def escape(name: str) -> str:
    """A property name as a CEL rule spells it (Kubernetes escaping of field names)."""
    if name in _RESERVED:
        return f"__{name}__"
    for text, replacement in _ESCAPES:
        name = name.replace(text, replacement)
    return name


def _cel_value(value: Json, schema: Mapping[str, Any]) -> Json:
    """``value`` as CEL sees it: struct fields (``properties``) escaped, maps left as they are."""
    if isinstance(value, dict):
        properties = schema.get("properties")
        if properties is not None:
            return {escape(k): _cel_value(v, properties.get(k) or {}) for k, v in value.items()}
        extra = schema.get("additionalProperties")
        sub = extra if isinstance(extra, Mapping) else {}
        return {k: _cel_value(v, sub) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [_cel_value(v, items if isinstance(items, Mapping) else {}) for v in value]
    return value


@functools.cache
def _program(rule: str) -> Any:
    return cel.compile(rule)


def rule_errors(obj: Json, schema: Mapping[str, Any], path: str = "") -> Iterator[str]:
    """``path: message`` for every CEL rule of ``schema`` that ``obj`` (defaulted) breaks."""
    for rule in schema.get("x-kubernetes-validations") or []:
        where = path + rule.get("fieldPath", "")
        try:
            result = _program(rule["rule"]).execute({"self": _cel_value(obj, schema)})
        except (ValueError, RuntimeError, TypeError, KeyError) as error:
            rule_text = rule["rule"]
            yield f"{where or '(object)'}: CEL rule {rule_text!r} could not be evaluated: {error}"
            continue
        if result is not True:
            message = rule.get("message") or f"failed rule: {rule['rule']}"
            yield f"{where or '(object)'}: {message}"
    if isinstance(obj, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for name, value in obj.items():
            sub = properties.get(name, extra)
            if isinstance(sub, Mapping):
                yield from rule_errors(value, sub, f"{path}.{name}" if path else name)
    elif isinstance(obj, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(obj):
            yield from rule_errors(item, schema["items"], f"{path}[{index}]")


def cel_errors(obj: Json, version: Version) -> list[str]:
    """The CEL rule violations of one object of ``version``, after defaulting."""
    return list(rule_errors(defaulted(obj, version.schema), version.schema))
