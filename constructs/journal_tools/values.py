"""Environment values: YAML files validated into typed models, with errors that name the spot.

``environments/_base.yaml`` (optional) holds what every environment shares; each other
``environments/<env>.yaml`` is one environment, deep-merged over the base. Files whose name
starts with ``_`` are layers, not environments.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

BASE_FILE = "_base.yaml"

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_QUANTITY = r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"


def _number_as_text(value: Any) -> Any:
    """YAML reads ``cpu: 1`` as a number; quantities are text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _not_latest(tag: str) -> str:
    if tag == "latest":
        raise ValueError("a pinned tag is required, not latest (pods pull with IfNotPresent)")
    return tag


DnsLabel = Annotated[str, Field(pattern=_DNS_LABEL, max_length=63)]
DnsSubdomain = Annotated[str, Field(pattern=_DNS_SUBDOMAIN, max_length=253)]
Quantity = Annotated[str, BeforeValidator(_number_as_text), Field(pattern=_QUANTITY)]
Replicas = Annotated[int, Field(ge=1, le=100)]


class _Values(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, alias_generator=to_camel, populate_by_name=True
    )


class Image(_Values):
    """A container image as repository and tag (or digest)."""

    repository: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._/:-]*$", max_length=255)]
    tag: Annotated[
        str,
        Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$|^sha256:[0-9a-f]{64}$"),
        AfterValidator(_not_latest),
    ]
    """A pinned tag (never ``latest``: pods pull with IfNotPresent) or a ``sha256:`` digest."""

    @property
    def reference(self) -> str:
        """``repository:tag``, or ``repository@sha256:...`` for a digest."""
        separator = "@" if self.tag.startswith("sha256:") else ":"
        return f"{self.repository}{separator}{self.tag}"


class Resources(_Values):
    """CPU and memory per pod; limits equal requests."""

    cpu: Quantity
    memory: Quantity


class Frontend(_Values):
    """The API tier."""

    image: Image
    replicas: Replicas
    resources: Resources
    journal_entries: Annotated[int, Field(ge=1)]


class Static(_Values):
    """The static file tier."""

    image: Image
    replicas: Replicas
    resources: Resources


class Storage(_Values):
    """Each Redis pod's data volume."""

    size: Quantity
    storage_class: DnsSubdomain | None = None


class SecretKey(_Values):
    """A key of an existing Secret."""

    name: DnsSubdomain
    key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)]


class RedisFailover(_Values):
    """Sentinel failover, HAProxy behind the write Service (``journal_k8s.Failover``);
    an unset key keeps the library's default."""

    down_after_ms: Annotated[int, Field(ge=100)] | None = None
    failover_timeout_ms: Annotated[int, Field(ge=1000)] | None = None
    min_replicas_to_write: Annotated[int, Field(ge=0)] | None = None
    min_replicas_max_lag: Annotated[int, Field(ge=1)] | None = None
    proxy_replicas: Replicas | None = None
    proxy_image: Image | None = None
    proxy_resources: Resources | None = None


class Redis(_Values):
    """The Redis tier."""

    image: Image
    replicas: Replicas
    resources: Resources
    storage: Storage
    password_secret: SecretKey
    failover: RedisFailover | None = None
    """Automatic failover; ``null`` (the default) keeps pod 0 the master."""

    @field_validator("failover")
    @classmethod
    def _enough_pods(cls, failover: RedisFailover | None, info: ValidationInfo) -> Any:
        if failover is not None and info.data.get("replicas", 3) < 3:
            raise ValueError("failover needs replicas >= 3 (a majority of sentinels must survive)")
        return failover


class Tls(_Values):
    """TLS for the Ingress host."""

    secret_name: DnsSubdomain
    cluster_issuer: DnsSubdomain | None = None


class Ingress(_Values):
    """The Ingress."""

    class_name: DnsSubdomain
    controller_namespace: DnsLabel
    host: DnsSubdomain | None = None
    tls: Tls | None = None


class IngressEdge(_Values):
    """The edge is an Ingress, described by the ``ingress`` keys (``kind: ingress``)."""

    kind: Literal["ingress"]


class GatewayEdge(_Values):
    """The edge is an HTTPRoute on a shared Gateway (``kind: gateway``); no ``ingress`` keys."""

    kind: Literal["gateway"]
    name: DnsSubdomain
    """The Gateway's name."""
    namespace: DnsLabel
    """The Gateway's namespace."""
    section_name: DnsSubdomain | None = None
    """The Gateway listener; default: every listener that allows the route."""
    hostnames: Annotated[list[DnsSubdomain], Field(max_length=16)] = []
    """The hosts the route serves; default: the listener's."""
    data_plane_namespace: DnsLabel | None = None
    """The namespace of the Gateway's pods; default: ``namespace``."""
    data_plane_labels: Annotated[dict[str, str], Field(min_length=1)] | None = None
    """The labels of the Gateway's pods; default: ``gateway.networking.k8s.io/gateway-name``."""


Edge = IngressEdge | GatewayEdge
"""Where traffic enters, chosen by ``kind``."""


class Quota(_Values):
    """The namespace's ResourceQuota (totals over every pod and claim)."""

    cpu: Quantity
    memory: Quantity
    storage: Quantity
    pods: Annotated[int, Field(ge=1)]


class EnvironmentValues(_Values):
    """Everything that may differ between environments."""

    namespace: DnsLabel
    frontend: Frontend
    static: Static
    redis: Redis
    ingress: Ingress | None = None
    """The Ingress, with ``edge.kind: ingress`` (the default); ``null`` with a Gateway edge."""
    edge: Annotated[Edge, Field(discriminator="kind", validate_default=True)] = IngressEdge(
        kind="ingress"
    )
    """Where traffic enters: an Ingress (default) or an HTTPRoute on a shared Gateway."""
    quota: Quota

    @field_validator("edge")
    @classmethod
    def _one_edge(cls, edge: Edge, info: ValidationInfo) -> Edge:
        if "ingress" not in info.data:  # the ingress keys are invalid: reported on their own
            return edge
        if isinstance(edge, IngressEdge) and info.data["ingress"] is None:
            raise ValueError("kind 'ingress' needs the ingress keys (className, ...)")
        if isinstance(edge, GatewayEdge) and info.data["ingress"] is not None:
            raise ValueError(
                "kind 'gateway' takes no ingress keys: set 'ingress: null' to drop the base layer's"
            )
        return edge


@dataclass(frozen=True)
class Environment:
    """One environment: its name (the file's stem), its validated values and their files."""

    name: str
    values: EnvironmentValues
    files: tuple[Path, ...]


class ValuesError(Exception):
    """A values file is missing, unreadable, malformed or invalid; the message says where."""


def environment_names(folder: Path) -> list[str]:
    """The environments defined in ``folder``: every ``*.yaml`` not starting with ``_``."""
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.name.startswith("_"))


def load_environments(folder: Path) -> list[Environment]:
    """Load and validate every environment in ``folder``, sorted by name.

    Raises:
        ValuesError: naming the file, the key path, the value and what is allowed.
    """
    names = environment_names(folder)
    if not names:
        raise ValuesError(f"{folder}: no environment files (<env>.yaml) found")
    return [load_environment(folder, name) for name in names]


def load_environment(folder: Path, name: str) -> Environment:
    """Load ``folder/<name>.yaml`` over the optional base layer and validate it."""
    path = folder / f"{name}.yaml"
    if len(name) > 63 or not re.match(_DNS_LABEL, name):
        raise ValuesError(
            f"{path}: environment name {name!r} is not allowed: expected a DNS-1123 label "
            "(lower-case letters, digits and '-'), because it names a chart and a folder"
        )
    layers = [p for p in (folder / BASE_FILE, path) if p.exists()]
    documents = [_read_mapping(p) for p in layers]
    merged: dict[str, Any] = {}
    for data, _lines in documents:
        merged = _merge(merged, data)
    try:
        values = EnvironmentValues.model_validate(merged)
    except ValidationError as error:
        raise ValuesError(_describe(error, layers, documents)) from None
    return Environment(name=name, values=values, files=tuple(layers))


_Lines = dict[tuple[str | int, ...], int]


def _read_mapping(path: Path) -> tuple[dict[str, Any], _Lines]:
    """Parse one YAML file into a mapping, with the line of every key path."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValuesError(f"{path}: cannot be read: {error}") from None
    try:
        loader = yaml.CSafeLoader(text)
        try:
            node = loader.get_single_node()
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ValuesError(f"{path}: invalid YAML{where}: {problem}") from None
    if data is None:
        raise ValuesError(f"{path}: the file is empty: expected a mapping of values")
    if not isinstance(data, dict):
        raise ValuesError(
            f"{path}: the top level is a {type(data).__name__}: expected a mapping of values"
        )
    lines: _Lines = {}
    _collect_lines(node, (), lines)
    return data, lines


def _collect_lines(node: yaml.Node | None, path: tuple[str | int, ...], lines: _Lines) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines[child] = key.start_mark.line + 1
            _collect_lines(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _collect_lines(item, (*path, index), lines)


def _merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings; the overlay wins (``null`` in it unsets an optional base value)."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(
    error: ValidationError,
    layers: list[Path],
    documents: list[tuple[dict[str, Any], _Lines]],
) -> str:
    """One line per problem: file, key path, line, value given, what is allowed."""
    problems = []
    for issue in error.errors(include_url=False):
        location = tuple(issue["loc"])
        key = ".".join(str(part) for part in location) or "(top level)"
        file, line = layers[-1], None
        for path, (_data, lines) in reversed(list(zip(layers, documents, strict=True))):
            if location in lines:
                file, line = path, lines[location]
                break
        where = f"{file}:{line}" if line else str(file)
        if issue["type"] == "missing":
            problems.append(f"{where}: {key}: missing: this key is required")
        elif issue["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(location[:-1]))
            problems.append(f"{where}: {key}: unknown key: allowed here are {allowed}")
        else:
            problems.append(f"{where}: {key}: {issue['input']!r} is not allowed: {issue['msg']}")
    return "\n".join(problems)


def _allowed_keys(location: tuple[str | int, ...]) -> list[str]:
    """The keys the model accepts at ``location`` (a path of aliases)."""
    model: type[BaseModel] | None = EnvironmentValues
    for part in location:
        assert model is not None
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        candidates = typing.get_args(field.annotation) or (field.annotation,)
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return []
    assert model is not None
    return sorted(f.alias or n for n, f in model.model_fields.items())
