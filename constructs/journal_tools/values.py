"""Environment values: YAML files validated into typed models, with errors that name the spot.

``environments/_base.yaml`` (optional) holds what every environment shares; each other
``environments/<env>.yaml`` is one environment, deep-merged over the base. Files whose name
starts with ``_`` are layers, not environments. Files are read with fixed bounds (see
``values_yaml``); the grammars and bounds of the values are in ``grammar``.
"""

from __future__ import annotations

import argparse
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

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
from pydantic.fields import FieldInfo

import journal_k8s
from journal_k8s import DEFAULT_METRICS_INTERVAL, DEFAULT_METRICS_PATH, Failover, grammar
from journal_k8s._types import IntRange
from journal_k8s.rules import shown

from . import bounds
from .values_yaml import KeyPath, Lines, YamlError, format_key, read_mapping

BASE_FILE = "_base.yaml"
SUFFIX = ".yaml"
MAX_PROBLEMS = 10
RESERVED_NAMES = ("helm", "diagrams", "bench", "docs")
"""Folders of dist/ that project commands write: no environment may take these names."""


def _number_as_text(value: Any) -> Any:
    """YAML reads ``cpu: 1`` as a number; quantities are text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


@dataclass(frozen=True)
class _Within:
    """A validator: the quantity is within ``bounds`` (and a byte count when ``whole``).

    A class, not a closure, so that ``quantity_keys`` finds the bounds of each key."""

    bounds: bounds.Bounds
    whole: bool = False

    def __call__(self, text: str) -> str:
        return bounds.check_quantity(text, self.bounds, whole=self.whole)


def _not_latest(tag: str) -> str:
    if tag == "latest":
        raise ValueError("a pinned tag is required, not latest (pods pull with IfNotPresent)")
    return tag


DnsLabel = Annotated[str, Field(pattern=grammar.DNS_LABEL, max_length=grammar.DNS_LABEL_MAX)]
DnsSubdomain = Annotated[
    str, Field(pattern=grammar.DNS_SUBDOMAIN, max_length=grammar.DNS_SUBDOMAIN_MAX)
]
Namespace = Annotated[
    DnsLabel,
    AfterValidator(bounds.check_namespace),
    Field(
        json_schema_extra={
            "not": {
                "anyOf": [
                    {"enum": list(bounds.SYSTEM_NAMESPACES)},
                    {"pattern": f"^{bounds.SYSTEM_PREFIX}"},
                ]
            }
        }
    ),
]
Host = Annotated[str, Field(pattern=grammar.HOST, max_length=grammar.DNS_SUBDOMAIN_MAX)]
_BYTES = Field(pattern=grammar.QUANTITY, json_schema_extra={"pattern": grammar.WHOLE_QUANTITY})
# The patterns are repeated for the JSON schema: pydantic leaves a pattern out of it when an
# AfterValidator follows (the schema of the Helm export needs them).
Cpu = Annotated[
    str,
    BeforeValidator(_number_as_text),
    Field(pattern=grammar.QUANTITY, json_schema_extra={"pattern": grammar.QUANTITY}),
    AfterValidator(_Within(bounds.CPU)),
]
Memory = Annotated[
    str,
    BeforeValidator(_number_as_text),
    _BYTES,
    AfterValidator(_Within(bounds.MEMORY, whole=True)),
]
StorageSize = Annotated[
    str,
    BeforeValidator(_number_as_text),
    _BYTES,
    AfterValidator(_Within(bounds.STORAGE, whole=True)),
]
Replicas = Annotated[int, Field(ge=1, le=100)]


def _library_range(allowed: IntRange, *, most: int | None = None) -> Any:
    """The integers a library argument takes (``Failover.RANGES[name]``), as a pydantic
    constraint; ``most`` caps a range the library leaves open."""
    return Field(ge=allowed.minimum, le=most if allowed.maximum is None else allowed.maximum)


class _Values(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, alias_generator=to_camel, populate_by_name=True
    )


class Image(_Values):
    """A container image as repository and tag (or digest)."""

    repository: Annotated[str, Field(pattern=grammar.IMAGE_REPOSITORY, max_length=255)]
    """An image name of the reference grammar, e.g. ``registry.example.com:5000/team/app``."""
    tag: Annotated[
        str,
        Field(pattern=grammar.IMAGE_TAG, json_schema_extra={"not": {"const": "latest"}}),
        AfterValidator(_not_latest),
    ]
    """A pinned tag (never ``latest``: pods pull with IfNotPresent) or a digest."""

    @property
    def reference(self) -> str:
        """``repository:tag``, or ``repository@sha256:...`` for a digest."""
        separator = "@" if self.tag.startswith(("sha256:", "sha512:")) else ":"
        return f"{self.repository}{separator}{self.tag}"


class Resources(_Values):
    """CPU and memory per pod; limits equal requests."""

    cpu: Cpu
    memory: Memory


_AUTOSCALING_RANGES = journal_k8s.Autoscaling.RANGES


class Autoscaling(_Values):
    """A HorizontalPodAutoscaler for the tier (``journal_k8s.Autoscaling``); an unset key keeps
    the library's default (CPU at 70 %, a 300 s scale-down window)."""

    min_replicas: Replicas
    max_replicas: Replicas
    cpu_utilization: (
        Annotated[int, _library_range(_AUTOSCALING_RANGES["cpu_utilization"], most=1000)] | None
    ) = None
    """Percent of the pods' CPU requests to keep on average."""
    memory_utilization: (
        Annotated[int, _library_range(_AUTOSCALING_RANGES["memory_utilization"], most=1000)] | None
    ) = None
    """Percent of the pods' memory requests to keep on average; default: CPU only."""
    scale_down_stabilization: (
        Annotated[int, _library_range(_AUTOSCALING_RANGES["scale_down_stabilization"])] | None
    ) = None
    """Seconds the autoscaler looks back before removing pods."""


_AUTOSCALING = Field(default=None, validate_default=True)
"""``autoscaling``: a HorizontalPodAutoscaler instead of ``replicas`` (exactly one is set)."""


def _replicas_or_autoscaling(autoscaling: Autoscaling | None, info: ValidationInfo) -> Any:
    if "replicas" not in info.data:  # the replicas key is invalid: reported on its own
        return autoscaling
    if autoscaling is not None and info.data["replicas"] is not None:
        raise ValueError(
            "autoscaling replaces replicas: set 'replicas: null' to drop the base layer's"
        )
    if autoscaling is None and info.data["replicas"] is None:
        raise ValueError("expected replicas, or autoscaling (minReplicas, maxReplicas)")
    return autoscaling


class Frontend(_Values):
    """The API tier."""

    image: Image
    replicas: Replicas | None = None
    """The number of pods, unless ``autoscaling`` is set."""
    resources: Resources
    journal_entries: Annotated[int, Field(ge=1, le=100_000)]
    autoscaling: Autoscaling | None = _AUTOSCALING

    _one_count = field_validator("autoscaling")(_replicas_or_autoscaling)


class Static(_Values):
    """The static file tier."""

    image: Image
    replicas: Replicas | None = None
    """The number of pods, unless ``autoscaling`` is set."""
    resources: Resources
    autoscaling: Autoscaling | None = _AUTOSCALING

    _one_count = field_validator("autoscaling")(_replicas_or_autoscaling)


class Storage(_Values):
    """Each Redis pod's data volume."""

    size: StorageSize
    storage_class: DnsSubdomain | None = None


class SecretKey(_Values):
    """A key of an existing Secret."""

    name: DnsSubdomain
    key: Annotated[str, Field(pattern=grammar.SECRET_KEY, max_length=grammar.DNS_SUBDOMAIN_MAX)]


class RedisFailover(_Values):
    """Sentinel failover, HAProxy behind the write Service (``journal_k8s.Failover``);
    an unset key keeps the library's default."""

    down_after_ms: Annotated[int, _library_range(Failover.RANGES["down_after_ms"])] | None = None
    failover_timeout_ms: (
        Annotated[int, _library_range(Failover.RANGES["failover_timeout_ms"])] | None
    ) = None
    min_replicas_to_write: (
        Annotated[int, _library_range(Failover.RANGES["min_replicas_to_write"])] | None
    ) = None
    min_replicas_max_lag: (
        Annotated[int, _library_range(Failover.RANGES["min_replicas_max_lag"])] | None
    ) = None
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
        if failover is not None and "replicas" in info.data:
            # The library's preconditions, on the keys the values set (the rest at defaults).
            settings = failover.model_dump(include={"min_replicas_to_write"}, exclude_none=True)
            try:
                Failover(**settings).check_against(info.data["replicas"])
            except ValueError as error:  # said with the library's argument names
                message = str(error)
                for name, field in RedisFailover.model_fields.items():
                    message = message.replace(f"{name}=", f"{field.alias or name}=")
                raise ValueError(message) from None
        return failover


class Tls(_Values):
    """TLS for the Ingress host."""

    secret_name: DnsSubdomain
    cluster_issuer: DnsSubdomain | None = None


class Ingress(_Values):
    """The Ingress."""

    class_name: DnsSubdomain
    controller_namespace: DnsLabel
    host: Host | None = None
    tls: Tls | None = None


def _label_key(key: str) -> str:
    if not grammar.is_label_key(key):  # the pattern passed: the prefix is too long
        raise ValueError(
            f"expected a label key whose prefix (before '/') is at most "
            f"{grammar.DNS_SUBDOMAIN_MAX} long"
        )
    return key


def _positive_duration(text: str) -> str:
    if grammar.duration_seconds(text) <= 0:  # the pattern passed: "0", "0s" or ""
        raise ValueError("expected a duration above zero, such as 15s, 1m or 1m30s")
    return text


LabelKey = Annotated[
    str,
    Field(
        pattern=grammar.LABEL_KEY,
        max_length=grammar.LABEL_KEY_MAX,
        json_schema_extra={"pattern": grammar.LABEL_KEY},
    ),
    AfterValidator(_label_key),
]
LabelValue = Annotated[str, Field(pattern=grammar.LABEL_VALUE, max_length=grammar.DNS_LABEL_MAX)]


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
    hostnames: Annotated[list[Host], Field(max_length=16)] = []
    """The hosts the route serves; default: the listener's."""
    data_plane_namespace: DnsLabel | None = None
    """The namespace of the Gateway's pods; default: ``namespace``."""
    data_plane_labels: (
        Annotated[dict[LabelKey, LabelValue], Field(min_length=1, max_length=16)] | None
    ) = None
    """The labels of the Gateway's pods; default: ``gateway.networking.k8s.io/gateway-name``."""


Edge = IngressEdge | GatewayEdge
"""Where traffic enters, chosen by ``kind``."""


class Quota(_Values):
    """The namespace's ResourceQuota (totals over every pod and claim)."""

    cpu: Cpu
    memory: Memory
    storage: StorageSize
    pods: Annotated[int, Field(ge=1, le=10_000)]


class Prometheus(_Values):
    """The Prometheus that scrapes the journal: where its pods run and their labels."""

    namespace: DnsLabel
    pod_labels: Annotated[dict[LabelKey, LabelValue], Field(min_length=1, max_length=16)]


class FrontendMetrics(_Values):
    """The API server's own metrics endpoint."""

    port: Annotated[int, Field(ge=1024, le=65535)]
    path: Annotated[str, Field(pattern=grammar.HTTP_PATH)] = DEFAULT_METRICS_PATH


class Metrics(_Values):
    """Prometheus metrics of every tier (``journal_k8s.Metrics``)."""

    enabled: bool
    """Exporter sidecars, ServiceMonitors, alerts and their NetworkPolicies."""
    prometheus: Prometheus
    monitor_labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=16)] = {}
    """Labels of the ServiceMonitors and PrometheusRules, for the Prometheus's selectors."""
    interval: Annotated[
        str,
        Field(
            pattern=grammar.DURATION, max_length=32, json_schema_extra={"pattern": grammar.DURATION}
        ),
        AfterValidator(_positive_duration),
    ] = DEFAULT_METRICS_INTERVAL
    frontend: FrontendMetrics | None = None
    """The API's metrics endpoint; default: the API is not scraped."""


class EnvironmentValues(_Values):
    """Everything that may differ between environments."""

    namespace: Namespace
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
    metrics: Metrics | None = None
    """Prometheus metrics; default: none."""

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


def quantity_keys(model: type[BaseModel] | None = None) -> dict[tuple[str, ...], bounds.Bounds]:
    """Every quantity key of the values (a path of aliases) with its bounds, in model order."""
    keys: dict[tuple[str, ...], bounds.Bounds] = {}
    for name, info in (model or EnvironmentValues).model_fields.items():
        key = info.alias or name
        for meta in info.metadata:
            if isinstance(meta, AfterValidator) and isinstance(meta.func, _Within):
                keys[(key,)] = meta.func.bounds
        for candidate in typing.get_args(info.annotation) or (info.annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys |= {(key, *sub): b for sub, b in quantity_keys(candidate).items()}
    return keys


@dataclass(frozen=True)
class Environment:
    """One environment: its name (the file's stem), its validated values and their files."""

    name: str
    values: EnvironmentValues
    files: tuple[Path, ...]
    lines: Mapping[KeyPath, tuple[Path, int]] = field(default_factory=dict, compare=False)
    """Where each key path is set: the file that wins the merge, and the line."""

    def where(self, key: KeyPath) -> str:
        """``file:line`` of ``key`` (or of its nearest parent set in a file), else the file."""
        for end in range(len(key), 0, -1):
            if key[:end] in self.lines:
                file, line = self.lines[key[:end]]
                return f"{file}:{line}"
        return str(self.files[-1])


class ValuesError(Exception):
    """A values file is missing, unreadable, malformed or invalid; the message says where."""


def environment_files(folder: Path) -> list[Path]:
    """The environment files of ``folder``: every ``*.yaml`` not starting with ``_``, by name.

    Raises:
        ValuesError: the folder cannot be read, a file is named ``*.yml`` (or another case of
            the suffix), or two names differ only in case.
    """
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError as error:
        raise ValuesError(f"{folder}: cannot read the folder: {error.strerror}") from None
    files = []
    for name in names:
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in (".yml", ".yaml") and suffix != SUFFIX:
            raise ValuesError(
                f"{folder / name}: values files end in {SUFFIX}: rename it to {stem}{SUFFIX}"
            )
        if suffix == SUFFIX and not name.startswith(("_", ".")):
            files.append(folder / name)
    seen: dict[str, Path] = {}
    for file in files:
        other = seen.setdefault(file.stem.lower(), file)
        if other != file:
            raise ValuesError(
                f"{file}: environment {shown(file.stem)} is also defined by {other.name}: "
                "environment names must differ, also ignoring case"
            )
    return files


def add_environments_option(parser: argparse.ArgumentParser) -> None:
    """The ``--environments`` option of every command that reads the values files."""
    parser.add_argument(
        "--environments",
        type=Path,
        default=Path("environments"),
        help="folder of values files (default: environments)",
    )


def environment_names(folder: Path) -> list[str]:
    """The environments defined in ``folder``: every ``*.yaml`` not starting with ``_``."""
    return [file.stem for file in environment_files(folder)]


def load_environments(folder: Path) -> list[Environment]:
    """Load and validate every environment in ``folder``, sorted by name.

    Raises:
        ValuesError: naming the file, the key path, the value and what is allowed; or two
            environments share a namespace.
    """
    names = environment_names(folder)
    if not names:
        raise ValuesError(f"{folder}: no environment files (<env>{SUFFIX}) found")
    environments = [load_environment(folder, name) for name in names]
    owners: dict[str, Environment] = {}
    for environment in environments:
        namespace = environment.values.namespace
        owner = owners.setdefault(namespace, environment)
        if owner is not environment:
            raise ValuesError(
                f"{environment.where(('namespace',))}: namespace: {namespace!r} is not allowed: "
                f"environment {owner.name!r} uses it already ({owner.where(('namespace',))}); "
                "each environment needs a namespace of its own"
            )
    return environments


def load_environment(folder: Path, name: str) -> Environment:
    """Load ``folder/<name>.yaml`` over the optional base layer and validate it."""
    path = folder / f"{name}{SUFFIX}"
    if not grammar.is_dns_label(name):
        raise ValuesError(
            f"{path}: environment name {shown(name)} is not allowed: expected a DNS-1123 "
            "label (lower-case letters, digits and '-'), because it names a chart and a folder"
        )
    if name in RESERVED_NAMES:
        raise ValuesError(
            f"{path}: environment name {name!r} is not allowed: dist/{name}/ holds the output "
            f"of a project command ({', '.join(RESERVED_NAMES)} are reserved)"
        )
    layers = [p for p in (folder / BASE_FILE, path) if os.path.lexists(p)]
    try:
        documents = [read_mapping(p, within=folder) for p in layers]
    except YamlError as error:
        raise ValuesError(str(error)) from None
    merged: dict[str, Any] = {}
    lines: dict[KeyPath, tuple[Path, int]] = {}
    for layer, (data, layer_lines) in zip(layers, documents, strict=True):
        merged = _merge(merged, data)
        lines |= {key: (layer, line) for key, line in layer_lines.items()}
    try:
        values = EnvironmentValues.model_validate(merged)
    except ValidationError as error:
        raise ValuesError(_describe(error, layers, documents)) from None
    return Environment(name=name, values=values, files=tuple(layers), lines=lines)


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
    documents: list[tuple[dict[str, Any], Lines]],
) -> str:
    """One line per problem (at most ``MAX_PROBLEMS``): file, key path, line, value, allowed."""
    problems = []
    issues = error.errors(include_url=False)
    for issue in issues[:MAX_PROBLEMS]:
        location, _ = _walk(tuple(issue["loc"]))
        if issue["type"] in ("union_tag_invalid", "union_tag_not_found"):
            location += (issue["ctx"]["discriminator"].strip("'"),)  # the tag's own key
        at = location
        if location[-1:] == ("[key]",):  # a map's key is refused: the value shown is that key
            at, location = location[:-1], location[:-2]
        key = format_key(location)
        file, line = _line(at, layers, documents)
        where = f"{file}:{line}" if line else str(file)
        if issue["type"] in ("missing", "union_tag_not_found"):
            problems.append(f"{where}: {key}: missing: this key is required")
        elif issue["type"] == "union_tag_invalid":
            expected = issue["ctx"]["expected_tags"]
            problems.append(
                f"{where}: {key}: {shown(issue['ctx']['tag'])} is not allowed: expected one of "
                f"{expected}"
            )
        elif issue["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(tuple(issue["loc"])[:-1]))
            problems.append(f"{where}: {key}: unknown key: allowed here are {allowed}")
        else:
            message = issue["msg"].removeprefix("Value error, ")
            if issue["type"] in ("int_type", "int_from_float", "int_parsing"):
                message = _whole_number(tuple(issue["loc"]))
            elif issue["type"] == "string_pattern_mismatch":
                message = "expected " + _PATTERNS.get(issue["ctx"]["pattern"], message)
            elif issue["type"] == "string_type" and type(issue["input"]) in (int, float):
                message = (
                    "expected text, and YAML reads an unquoted number as a number (1.10 as 1.1):"
                    " quote it"
                )
            if issue["input"] is None:  # a key left empty: YAML's null, not Python's None
                problems.append(f"{where}: {key}: null (no value) is not allowed: {message}")
            elif issue["type"] == "value_error" and isinstance(
                issue["input"], Mapping | BaseModel
            ):  # a section's settings refused together: the message says which
                problems.append(f"{where}: {key}: {message}")
            else:
                problems.append(
                    f"{where}: {key}: {shown(issue['input'])} is not allowed: {message}"
                )
    if len(issues) > MAX_PROBLEMS:
        problems.append(f"… and {len(issues) - MAX_PROBLEMS} more problems")
    return "\n".join(problems)


_PATTERNS = {
    grammar.DNS_LABEL: "a DNS-1123 label (lower-case letters, digits and '-', at most "
    f"{grammar.DNS_LABEL_MAX})",
    grammar.DNS_SUBDOMAIN: "a DNS-1123 subdomain (lower-case labels separated by '.')",
    grammar.HOST: "a DNS host name such as journal.example.com or *.example.com "
    "(not an IP address)",
    grammar.IMAGE_REPOSITORY: "an image name such as registry.example.com:5000/team/app "
    "(lower-case path parts separated by single '/', no tag)",
    grammar.IMAGE_TAG: "a tag (letters, digits, '_', '.', '-'; at most 128) or a digest "
    "such as sha256:<64 hex digits>",
    grammar.QUANTITY: "a Kubernetes quantity such as 500m, 2, 1.5, 256Mi, 10Gi or 1e3",
    grammar.SECRET_KEY: "a Secret key (letters, digits, '-', '_' and '.')",
    grammar.LABEL_KEY: "a label key such as app.kubernetes.io/name ('[prefix/]name')",
    grammar.LABEL_VALUE: f"a label value (at most {grammar.DNS_LABEL_MAX} letters, digits, '-', "
    "'_' and '.')",
    grammar.DURATION: "a Prometheus duration such as 15s, 1m or 1m30s",
    grammar.HTTP_PATH: "a path starting with '/', of at most 256 printable ASCII characters "
    "(no spaces)",
}


def _line(
    key: KeyPath, layers: list[Path], documents: list[tuple[dict[str, Any], Lines]]
) -> tuple[Path, int | None]:
    """The file and line of ``key`` in the last layer that sets it; for a key no layer sets
    (a missing one), those of the closest section that holds it."""
    for end in range(len(key), 0, -1):
        for path, (_data, lines) in reversed(list(zip(layers, documents, strict=True))):
            if key[:end] in lines:
                return path, lines[key[:end]]
    return layers[-1], None


def _walk(location: tuple[str | int, ...]) -> tuple[KeyPath, type[BaseModel] | None]:
    """A pydantic error location as the values key path, and the model that validates the
    values there.

    After a field that is a union chosen by a key (``edge``, by ``kind``), pydantic adds the
    chosen tag (``edge.gateway.name``): it picks the model and is no key of the values.
    """
    model: type[BaseModel] | None = EnvironmentValues
    keys: list[str | int] = []
    parts = list(location)
    while parts:
        part = parts.pop(0)
        keys.append(part)
        field = _field(model, part)
        candidates = (typing.get_args(field.annotation) or (field.annotation,)) if field else ()
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if field is not None and isinstance(field.discriminator, str) and parts:
            tag = parts.pop(0)
            models = [m for m in models if _tags(m, field.discriminator) == (tag,)]
        model = models[0] if models else None
    return tuple(keys), model


def _tags(model: type[BaseModel], discriminator: str) -> tuple[Any, ...]:
    return typing.get_args(model.model_fields[discriminator].annotation)


def _model_at(location: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model that the values at ``location`` (a pydantic error location) are validated by."""
    return _walk(location)[1]


def _field(model: type[BaseModel] | None, alias: str | int) -> FieldInfo | None:
    if model is None:
        return None
    return next((f for n, f in model.model_fields.items() if (f.alias or n) == alias), None)


def _allowed_keys(location: tuple[str | int, ...]) -> list[str]:
    """The keys the model accepts at ``location`` (a path of aliases)."""
    model = _model_at(location)
    return [] if model is None else sorted(f.alias or n for n, f in model.model_fields.items())


def _whole_number(location: tuple[str | int, ...]) -> str:
    """What an integer field at ``location`` allows: ``a whole number from 1 to 100``."""
    field = _field(_model_at(location[:-1]), location[-1]) if location else None
    bounds = list(field.metadata) if field else []
    for member in typing.get_args(field.annotation) if field else ():  # Replicas | None
        for meta in getattr(member, "__metadata__", ()):
            bounds += meta.metadata if isinstance(meta, FieldInfo) else [meta]
    low = next((m.ge for m in bounds if hasattr(m, "ge")), None)
    high = next((m.le for m in bounds if hasattr(m, "le")), None)
    return (
        f"expected a whole number from {low} to {high}"
        if low is not None
        else "expected a whole number"
    )
