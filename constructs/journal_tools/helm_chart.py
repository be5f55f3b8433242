"""Helm export: one chart whose ``values-<env>.yaml`` renders exactly ``dist/<env>/``.

Usage::

    python -m journal_tools.helm_chart              # writes dist/helm/journal-k8s/
    helm template journal dist/helm/journal --namespace journal-prod \\
        -f dist/helm/journal-k8s/values-prod.yaml      # the objects of dist/prod/

The chart is generated, never edited: ``environments/`` and the constructs stay the source.

How the templates are made: every environment is built with ``app.py``'s ``build``; an object
is the same object in every environment when it has the same construct path (construct ids
are public contract), and its manifests are compared field by field:

- a field equal in every environment is literal text in ``templates/<kind>-<name>.yaml``;
- a field that differs is read from the values file and printed with ``toJson``: JSON is
  YAML, so ``"1"`` stays a string and ``3`` an int, whatever the field's type. Its key is the
  key of ``environments/`` that holds the same value in every environment, when exactly one
  does (``namespace``, ``frontend.replicas``, ``quota.cpu``); otherwise
  ``derived.<kind><Name>.<field path>``: what the constructs compute from those keys
  (the Ingress ``tls`` list, an image reference, a ConfigMap value, ...);
- a pod's config-hash annotation that differs is computed by Helm from the rendered
  ConfigMap it hashes (the constructs' ``content_hash``), so a ConfigMap value changed through
  Helm still rolls the pods;
- ``SWITCH`` (``metrics.enabled``) may be flipped in any environment's values: each
  environment is also built with it flipped (``switched``), and what flipping it adds, removes
  or changes (an exporter sidecar, a container port, a volume, a config file, the metrics
  objects) is written under ``if .Values.metrics.enabled`` (and ``else``), so
  ``--set metrics.enabled=true`` on dev's values renders what synth gives for dev with
  metrics. A derived value that differs with it is kept for either side
  (``derived.<...>.ifMetricsEnabled.<key>`` and ``ifMetricsDisabled``);
- a field present in some environments only is guarded by ``hasKey`` on its value key, an
  object present in some environments only by the settings mapping it reads that is set
  exactly there (``frontend.autoscaling`` for the API's autoscaler), else by the boolean
  ``objects.<kind><Name>``;
- a literal ``{{`` (scripts, configs) is written ``{{ "{{" }}``, so Helm prints it unchanged.

So ``values-<env>.yaml`` holds exactly what differs between environments, and every key in
it is read by a template. ``values.schema.json`` describes exactly that: the JSON schema of
the environment model (``EnvironmentValues``, with its patterns and bounds) cut down to the
keys used, plus ``derived`` and ``objects``: a derived value gets the grammar of what it is
derived from (``DERIVED_SCHEMAS``, by key), mappings and lists are closed down to their
leaves, other leaves get their observed type; unknown keys are refused. The quantity
patterns are in the schema; their bounds (``Bounds``: memory from 1Mi, …), which JSON
Schema cannot compare, are checked by ``templates/quantities.yaml``: for each quantity key the
templates read (``values.quantity_keys``), a render out of bounds fails with the key, the value
and the range, as the Python values say them. The comparison is exact (``_quantities.tpl``:
decimal digits compared as text, no floating point), so chart and Python agree on every
quantity; a test holds them to it on thousands of samples. A pattern per range was the other
way, and no exact one is small: an exponent takes any of 1,999 values (``e-999`` … ``e999``)
and a number any count of leading zeros (``0.0…01e999`` is a CPU quantity), so it would need
a branch per exponent.
``values.yaml`` is empty on purpose: defaults from one environment would silently fill the
keys another environment leaves out, so every render names its values file (the schema
refuses a render without one).

A setting other than ``SWITCH`` changed through Helm reaches only the fields it feeds by value,
so the chart lets it change only where nothing else depends on it (``coupled``): each
environment is built again with each setting the templates read at another environment's
value (and with ``SWITCH`` flipped too); where adding that build to the export changes no
template and no values file, the chart renders it exactly from the environment's values file
and the setting is free (``quota.cpu``, ``redis.resources.cpu``). Where it changes a derived
value, a literal field or the set of objects, or the values or the constructs refuse it, the
setting is coupled there: the values file records the value it had
(``derived.computedWith.<key in camelCase>``, and ``derived.valuesFile``), and
``templates/computed-with.yaml`` fails a render with any other value, naming the key, both
values and what is computed from it (``namespace``: the HAProxy config, NetworkPolicies,
alert rules; ``redis.replicas``; ``redis.resources.memory``: an alert; prod's ``ingress.host``:
the TLS hosts). A quantity is compared as the API server stores it (``2048Mi`` is ``2Gi``).

Limits: a field is tied to an environment key by equal values over the known environments,
so a new environment means a new export; a setting is probed with the values other
environments give it only (a setting no other environment sets apart is not templated, or
set in one environment only), and a setting an environment's values file lacks is not
probed there. The probes check the values model and the constructs, not synth's read-back of
the manifests. Helm reads numbers as float64: a differing float with an integral value
(``1.0``) or an int beyond 2**53 cannot round-trip and is refused.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cdk8s
import yaml
from jsii.errors import JSIIError
from pydantic import BaseModel

from journal_k8s import (
    CONFIG_HASH_ANNOTATION,
    content_hash,
    grammar,
)
from journal_k8s.path_ingress import CLUSTER_ISSUER_ANNOTATION

from .bounds import Bounds, binary_bounds
from .publish import PublishError, publish
from .synth import Builder, SynthError, render
from .values import (
    Environment,
    EnvironmentValues,
    ValuesError,
    add_environments_option,
    load_environments,
    quantity_keys,
)

DISTRIBUTION = "journal-k8s"
"""The project distribution whose name, version and summary the chart carries."""
BOOK_APP_VERSION = "1.0"
"""``appVersion`` when the environments run different frontend tags (the book's value)."""
SECTIONS = ("derived", "objects")
"""Top-level values keys of the chart itself, next to the environment keys."""

Manifest = dict[str, Any]
Key = tuple[str, ...]
Tree = dict[str, Any]
"""Nested keys; ``None`` marks a value."""
SWITCH: Key = ("metrics", "enabled")
"""The setting a user may flip in any environment's values: the chart renders either side."""
BRANCHES = {True: "ifMetricsEnabled", False: "ifMetricsDisabled"}
"""The key a derived value that differs with ``SWITCH`` gets, by side, before its own key."""

DERIVED_SCHEMAS: dict[str, dict[str, Any]] = {
    # ConfigMap text of frontend.journalEntries (an integer from 1 to 100000).
    "journalEntries": {"type": "string", "pattern": r"^([1-9][0-9]{0,4}|100000)$"},
    # The Ingress TLS list and its cert-manager annotation (ingress.host, ingress.tls).
    "hosts": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "string",
            "pattern": grammar.HOST,
            "maxLength": grammar.DNS_SUBDOMAIN_MAX,
        },
    },
    "secretName": {
        "type": "string",
        "pattern": grammar.DNS_SUBDOMAIN,
        "maxLength": grammar.DNS_SUBDOMAIN_MAX,
    },
    CLUSTER_ISSUER_ANNOTATION: {
        "type": "string",
        "pattern": grammar.DNS_SUBDOMAIN,
        "maxLength": grammar.DNS_SUBDOMAIN_MAX,
    },
    # A container image reference (repository and tag or digest of the image values).
    "image": {
        "type": "string",
        "pattern": grammar.IMAGE_REFERENCE,
        "maxLength": 512,
        "not": {"pattern": ":latest$"},
    },
}
"""Schemas of derived values by their key: what the values they derive from allow."""

_ABSENT = "<absent>"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_AMBIGUOUS = re.compile(r"[-+.0-9]|[yYnN]$")
_JSON_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "object",
    list: "array",
    type(None): "null",
}


class ChartError(Exception):
    """The environments cannot be exported as one chart; the message says which field."""


@dataclass(frozen=True)
class Resource:
    """One synthesized object and its construct path below the chart (the same in every env)."""

    id: str
    manifest: Manifest


def collect(environments: Sequence[Environment], build: Builder) -> dict[str, list[Resource]]:
    """Build every environment; return each one's objects with their construct paths.

    Raises:
        SynthError: a construct rejected its arguments.
    """
    app = cdk8s.App()
    collected = {}
    for environment in environments:
        where = f"environment {environment.name!r} ({', '.join(map(str, environment.files))})"
        try:
            chart = build(app, environment)
            # jsii gives each ApiObject its Python class: no round trip per construct to ask.
            objects = [c for c in chart.node.find_all() if isinstance(c, cdk8s.ApiObject)]
            collected[environment.name] = [
                Resource(o.node.path.removeprefix(f"{chart.node.path}/"), o.to_json())
                for o in objects
            ]
        except (ValueError, JSIIError) as error:
            raise SynthError(f"{where}: {error}") from None
    return collected


def export(environments: Sequence[Environment], build: Builder) -> dict[str, str]:
    """The chart's files (path inside the chart folder to text) for ``environments``.

    Each environment is also built with ``SWITCH`` flipped, so that the chart renders either
    setting of it as synth does; and with each other setting that differs between environments
    set to another environment's value (``coupled``), so that the chart refuses a change of a
    setting other fields are computed from.

    Raises:
        SynthError: a construct rejected its arguments.
        ChartError: a differing field cannot round-trip through Helm.
    """
    tags = {e.values.frontend.image.tag for e in environments}
    variants = {e.name: v for e in environments if (v := switched(e)) is not None}
    built = [*environments, *variants.values()]
    exporter = _Exporter(
        build,
        collect(built, build),
        {e.name: _settings(e) for e in built},
        {variant.name: name for name, variant in variants.items()},
        app_version=next(iter(tags)) if len(tags) == 1 else BOOK_APP_VERSION,
    )
    plain, planner = exporter.files()
    computed = exporter.coupled(environments, plain, planner)
    return exporter.files(computed=computed)[0]


@dataclass(frozen=True)
class Coupled:
    """A setting that other fields are computed from, in the environments where they are."""

    values: dict[str, Any]
    """Its value in each environment where changing it changes more than the fields it feeds
    by value, as the values file holds it."""
    what: str
    """What is computed from it, for the message: ``ConfigMap redis-proxy, 10
    NetworkPolicies``, or ``the checks of synth`` where another value is refused."""


@dataclass
class _Exporter:
    """The environments built, and the chart of them, with probes of their settings."""

    build: Builder
    resources: dict[str, list[Resource]]
    settings: dict[str, dict[str, Any]]
    variants: dict[str, str]
    app_version: str
    schema: dict[str, Any] = field(
        default_factory=lambda: EnvironmentValues.model_json_schema(by_alias=True)
    )
    """The JSON schema of one environment's values, built once for every probe."""

    def files(
        self,
        extra: Sequence[Environment] = (),
        probes: Mapping[str, str] | None = None,
        computed: Mapping[Key, Coupled] | None = None,
    ) -> tuple[dict[str, str], _Planner]:
        """The chart, with the environments ``extra`` built too (``probes``: each one's
        environment; a ``SWITCH`` variant of one of them is named in ``probes`` too)."""
        resources = dict(self.resources)
        settings = dict(self.settings)
        variants = dict(self.variants)
        if extra:
            resources |= collect(extra, self.build)
            settings |= {e.name: _settings(e) for e in extra}
            for environment in extra:
                flip = switched(environment)
                if flip is not None and flip.name in resources:
                    variants[flip.name] = environment.name
        return _chart(
            resources,
            settings,
            self.schema,
            app_version=self.app_version,
            quantities=quantity_keys(),
            variants=variants,
            probes=probes,
            computed=computed,
        )

    def coupled(
        self, environments: Sequence[Environment], plain: Mapping[str, str], planner: _Planner
    ) -> dict[Key, Coupled]:
        """The settings read by the templates that may not change through Helm, by key.

        A setting is free in an environment when the chart, given that environment's values
        file with the setting at another environment's value, renders what synth gives for
        the environment with that value: when the environment built so (and with ``SWITCH``
        flipped too) is one the chart renders already, from that values file (adding it to
        the export changes no template and no values file). Otherwise (a template or derived
        value changes, an object comes or goes, the values or the constructs refuse the
        value) the setting is coupled there. ``SWITCH`` is not probed, nor a setting that no
        other environment sets to another value.
        """
        found: dict[Key, dict[str, Any]] = {}
        what: dict[Key, set[tuple[str, str]]] = {}
        values_files = planner.values_files()
        for environment in environments:
            mine = [
                (key, value)
                for key, value in _leaves(values_files[environment.name])
                if key[0] not in SECTIONS and key != SWITCH
            ]
            for key, value in mine:
                others = {
                    _canonical(_get(self.settings[o.name], key)): o
                    for o in environments
                    if _set(self.settings[o.name], key)
                }
                others.pop(_canonical(value), None)
                for other in others.values():
                    reasons = self._probe(environment, other, key, plain)
                    if reasons:
                        found.setdefault(key, {})[environment.name] = value
                        what.setdefault(key, set()).update(reasons)
        return {key: Coupled(found[key], _describe(what[key])) for key in found}

    def _probe(
        self, environment: Environment, other: Environment, key: Key, plain: Mapping[str, str]
    ) -> set[tuple[str, str]]:
        """What changing ``key`` in ``environment`` to ``other``'s value changes beyond the
        fields it feeds: the (kind, name) of objects, ``REFUSED`` when the values or the
        constructs refuse it; nothing when the chart renders the change exactly."""
        data = environment.values.model_dump(mode="json", by_alias=True, exclude_none=True)
        raw = _get(other.values.model_dump(mode="json", by_alias=True, exclude_none=True), key)
        _put(data, key, raw)
        try:
            values = EnvironmentValues.model_validate(data)
        except ValueError:
            return {REFUSED}
        name = f"{environment.name} with {'.'.join(key)}={json.dumps(raw)}"
        probe = replace(environment, name=name, values=values)
        built = [probe, *([flip] if (flip := switched(probe)) is not None else [])]
        try:
            changed, planner = self.files(built, {e.name: environment.name for e in built})
        except SynthError:
            return {REFUSED}
        except ChartError:
            return {("", "other fields")}
        return planner.changed_objects(plain, changed)


REFUSED = ("", "the checks of synth")


def _describe(objects: Iterable[tuple[str, str]]) -> str:
    """``ConfigMap redis-proxy, 10 NetworkPolicies, the checks of synth``."""
    kinds: dict[str, list[str]] = {}
    for kind, name in sorted(objects):
        kinds.setdefault(kind, []).append(name)
    parts = []
    for kind, names in kinds.items():
        if not kind:
            parts += names
        elif len(names) == 1:
            parts.append(f"{kind} {names[0]}")
        else:
            plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
            parts.append(f"{len(names)} {plural}")
    return ", ".join(parts)


def _settings(environment: Environment) -> dict[str, Any]:
    """An environment's values as JSON, each quantity as the API server stores it."""
    return _stored_quantities(
        environment.values.model_dump(mode="json", by_alias=True, exclude_none=True)
    )


def _get(data: Mapping[str, Any], key: Key) -> Any:
    value: Any = data
    for part in key:
        value = value[part]
    return value


def switched(environment: Environment) -> Environment | None:
    """``environment`` with ``SWITCH`` flipped; ``None`` when its values do not set it."""
    *parents, last = SWITCH
    models: list[Any] = [environment.values]
    for part in parents:
        models.append(getattr(models[-1], _field(models[-1], part)))
        if models[-1] is None:
            return None
    flipped = not getattr(models[-1], _field(models[-1], last))
    value: Any = flipped
    for model, part in zip(reversed(models), reversed(SWITCH), strict=True):
        value = model.model_copy(update={_field(model, part): value})
    name = f"{environment.name} with {'.'.join(SWITCH)}={json.dumps(flipped)}"
    return replace(environment, name=name, values=value)


def _field(model: BaseModel, alias: str) -> str:
    """The field name of a values model behind a values key."""
    fields = type(model).model_fields
    return next(name for name, info in fields.items() if (info.alias or name) == alias)


def _stored_quantities(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with each quantity as the API server stores it (``0.5`` as ``500m``), as
    the manifests hold it: the values files say what the chart renders."""
    for key in quantity_keys():
        *parents, last = key
        node: Any = settings
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(last), str | int):
            node[last] = grammar.canonical_quantity(node[last])
    return settings


def _chart(
    resources: Mapping[str, Sequence[Resource]],
    settings: Mapping[str, Mapping[str, Any]],
    settings_schema: Mapping[str, Any],
    *,
    app_version: str,
    quantities: Mapping[Key, Bounds] | None = None,
    variants: Mapping[str, str] | None = None,
    probes: Mapping[str, str] | None = None,
    computed: Mapping[Key, Coupled] | None = None,
) -> tuple[dict[str, str], _Planner]:
    """The chart's files for environments given as objects and settings, and its planner.

    Args:
        resources: each environment's objects.
        settings: each environment's values as JSON (no nulls), keyed like ``resources``.
        settings_schema: the JSON schema of one environment's settings.
        app_version: the chart's ``appVersion``.
        quantities: the settings keys that are quantities, with their bounds (the schema has
            their patterns); those the templates read are checked by ``templates/quantities.yaml``.
        variants: the environments of ``resources`` that are another one with ``SWITCH``
            flipped (``switched``), to the name of that one; they get no values file.
        probes: the environments of ``resources`` that are another one with a setting
            changed, to the name of that one; they get no values file.
        computed: the coupled settings, checked by ``templates/computed-with.yaml``.

    Raises:
        ChartError: a differing field cannot round-trip, or two objects get one key.
    """
    clash = {key for values in settings.values() for key in values} & set(SECTIONS)
    if clash:
        raise ChartError(f"settings keys {sorted(clash)} are reserved for the chart's values")
    planner = _Planner(settings, quantities or {}, variants or {}, probes or {})
    files = {"Chart.yaml": _chart_yaml(app_version), "values.yaml": _VALUES_YAML}
    for file, text in planner.templates(resources).items():
        files[f"templates/{file}"] = text
    if computed:
        files[f"templates/{COMPUTED_CHECKS}"] = planner.computed_checks(computed)
    checked = {key: bounds for key, bounds in (quantities or {}).items() if _in(planner.used, key)}
    if checked:
        files[f"templates/{QUANTITY_HELPERS}"] = _QUANTITY_HELPERS
        files[f"templates/{QUANTITY_CHECKS}"] = quantity_checks(checked)
    for environment, values in planner.values_files().items():
        header = _VALUES_HEADER.format(environment=environment)
        files[f"values-{environment}.yaml"] = header + _dump(values)
    files["values.schema.json"] = json.dumps(planner.schema(settings_schema), indent=2) + "\n"
    return files, planner


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: export every environment as one chart, print its values files."""
    import app  # the deployable app's build function (the repository root is the cwd)

    parser = argparse.ArgumentParser(description="Export every environment as one Helm chart.")
    add_environments_option(parser)
    parser.add_argument(
        "--outdir",
        type=Path,
        default=Path("dist/helm/journal-k8s"),
        help="chart folder (named as the chart)",
    )
    arguments = parser.parse_args(argv)
    try:
        environments = load_environments(arguments.environments)
        render(environments, app.build)  # the checks of synth: no chart of refused manifests
        files = export(environments, app.build)
        publish(arguments.outdir.parent, {arguments.outdir.name: files})
    except (ChartError, ValuesError, SynthError, PublishError) as error:
        print(f"helm export failed, {arguments.outdir}/ left as it was:\n{error}", file=sys.stderr)
        return 1
    for name in sorted(files):
        if name.startswith("values-"):
            print(arguments.outdir / name)
    return 0


COMPUTED_CHECKS = "computed-with.yaml"
COMPUTED_WITH = "computedWith"
"""``derived.computedWith.<key in camelCase>``: the value a coupled setting had at export."""
VALUES_FILE = "valuesFile"
"""``derived.valuesFile``: the name of the values file, for the messages of the checks."""
QUANTITY_HELPERS = "_quantities.tpl"
QUANTITY_CHECKS = "quantities.yaml"
_QUANTITY_HELPERS = """\
{{- /* Generated by journal_tools.helm_chart: quantity bounds, compared exactly.

The schema's pattern has matched the quantity: a number, then a decimal suffix (m, k, M, ...,
an exponent e3) or a binary one (Ki, Mi, ...). Its number and decimal suffix are written
0.<digits> x 10^<magnitude>, digits without leading or trailing zeros (bounds.scientific);
that is within the bounds for its binary suffix (the bounds divided by 1024^k) when the pair
(magnitude, digits) lies between theirs: magnitudes compared as integers, then digits as text.
No floating point: 4096.0000000000000001 is above 4096. */ -}}

{{- /* (list value bounds): "below", "above" or "" (within); bounds maps each binary suffix
to (list lowMagnitude lowDigits highMagnitude highDigits). */ -}}
{{- define "journal-k8s.quantityOutOfRange" -}}
{{- $value := index . 0 }}
{{- $number := regexFind "^[0-9.]*" $value }}
{{- $suffix := trimPrefix $number $value }}
{{- $whole := regexFind "^[0-9]*" $number }}
{{- $digits := print $whole (trimPrefix "." (trimPrefix $whole $number)) }}
{{- $significant := regexReplaceAll "^0+" $digits "" }}
{{- $magnitude := sub (len $whole) (sub (len $digits) (len $significant)) }}
{{- $significant = regexReplaceAll "0+$" $significant "" }}
{{- $decimal := dict "m" -3 "k" 3 "M" 6 "G" 9 "T" 12 "P" 15 "E" 18 }}
{{- $binary := "" }}
{{- if hasSuffix "i" $suffix }}
  {{- $binary = $suffix }}
{{- else if regexMatch "^[eE].+" $suffix }}
  {{- $magnitude = add $magnitude (atoi (substr 1 -1 $suffix)) }}
{{- else if $suffix }}
  {{- $magnitude = add $magnitude (index $decimal $suffix) }}
{{- end }}
{{- $bounds := index (index . 1) $binary }}
{{- $low := index $bounds 0 }}{{ $lowDigits := index $bounds 1 }}
{{- $high := index $bounds 2 }}{{ $highDigits := index $bounds 3 }}
{{- if not $significant }}below
{{- else if lt $magnitude $low }}below
{{- else if and (eq $magnitude $low) (lt $significant $lowDigits) }}below
{{- else if gt $magnitude $high }}above
{{- else if and (eq $magnitude $high) (gt $significant $highDigits) }}above
{{- end }}
{{- end }}

{{- /* A quantity as the API server stores it (Kubernetes' ParseQuantity, then String; see
journal_k8s.grammar.canonical_quantity): "0.5" as "500m", "1024Mi" as "1Gi", "1.5Gi" as "1536Mi";
a text the parser finds canonical already is kept. Exact in int64 (no floating point); a value
whose exact arithmetic would not fit fails the render, asking for fewer digits. */ -}}
{{- define "journal-k8s.quantity" -}}
{{- $text := toString . }}
{{- $fewer := printf "quantity '%s': %s: write it with fewer digits" $text
  "too many to write it exactly as the API server stores it" }}
{{- $number := regexFind "^[0-9.]*" $text }}
{{- $suffix := trimPrefix $number $text }}
{{- $whole := regexFind "^[0-9]*" $number }}
{{- $fraction := trimPrefix "." (trimPrefix $whole $number) }}
{{- $num := regexReplaceAll "^0+" $whole "" | default "0" }}
{{- $decimal := dict "" 0 "n" -9 "u" -6 "m" -3 "k" 3 "M" 6 "G" 9 "T" 12 "P" 15 "E" 18 }}
{{- $binary := dict "Ki" 10 "Mi" 20 "Gi" 30 "Ti" 40 "Pi" 50 "Ei" 60 }}
{{- $form := "decimal" }}{{ $exponent := 0 }}
{{- if hasKey $binary $suffix }}{{ $form = "binary" }}{{ $exponent = index $binary $suffix }}
{{- else if hasKey $decimal $suffix }}{{ $exponent = index $decimal $suffix }}
{{- else }}{{ $form = "exponent" }}{{ $exponent = atoi (substr 1 -1 $suffix) }}
{{- end }}
{{- $digits := print $num $fraction }}
{{- $mantissa := "" }}{{ $power := 0 }}{{ $amount := -1 }}
{{- if or (eq $text "0") (not (regexMatch "[1-9]" $digits)) }}0
{{- else if eq $form "binary" }}
  {{- $precision := sub (sub (sub 15 (len $num)) (div (mul $exponent 3) 10)) 1 }}
  {{- if and (not $fraction) (ge $precision 0) (ne (mod (atoi $num) 8) 0) }}{{ $text }}
  {{- else }}
    {{- /* value = D * 2^exponent / 10^k (D: the digits, k: the fraction's) = Q / den, with
    t = min(k, exponent), Q = D * 2^(exponent - t), den = 2^(k - t) * 5^k: its whole part
    Q / den, and its k decimals F = (Q mod den) * 2^t (F < 10^k), rounded up to 9. */ -}}
    {{- $short := regexReplaceAll "0+$" $fraction "" }}
    {{- $d := regexReplaceAll "^0+" (print $num $short) "" | default "0" }}
    {{- $k := len $short }}
    {{- if or (gt (len $d) 18) (gt $k 18) }}{{ fail $fewer }}{{ end }}
    {{- $t := min $k $exponent }}
    {{- $pow := 1 }}{{ range until (int (sub $exponent $t)) }}{{ $pow = mul $pow 2 }}{{ end }}
    {{- if gt (atoi $d) (div 9223372036854775807 $pow) }}{{ fail $fewer }}{{ end }}
    {{- $q := mul (atoi $d) $pow }}
    {{- $den := 1 }}{{ range until (int $k) }}{{ $den = mul $den 5 }}{{ end }}
    {{- range until (int (sub $k $t)) }}{{ $den = mul $den 2 }}{{ end }}
    {{- $whole := div $q $den }}
    {{- $decimals := mod $q $den }}
    {{- range until (int $t) }}{{ $decimals = mul $decimals 2 }}{{ end }}
    {{- $places := $k }}
    {{- if gt $k 9 }}
      {{- $cut := 1 }}{{ range until (int (sub $k 9)) }}{{ $cut = mul $cut 10 }}{{ end }}
      {{- $decimals = div (add $decimals (sub $cut 1)) $cut }}{{ $places = 9 }}
      {{- if eq $decimals 1000000000 }}{{ $whole = add1 $whole }}{{ $decimals = 0 }}{{ end }}
    {{- end }}
    {{- if eq $decimals 0 }}{{ $amount = $whole }}
    {{- else }}
      {{- $mantissa = print $whole (printf "%0*d" (int $places) $decimals) }}
      {{- $power = sub 0 $places }}
    {{- end }}
    {{- if ge $amount 1024 }}
      {{- $index := 0 }}
      {{- range until 6 }}
        {{- if eq (mod $amount 1024) 0 }}
          {{- $amount = div $amount 1024 }}{{ $index = add1 $index }}
        {{- end }}
      {{- end }}
      {{- print $amount (index (list "" "Ki" "Mi" "Gi" "Ti" "Pi" "Ei") $index) }}
    {{- else if ge $amount 0 }}{{ $mantissa = toString $amount }}{{ $form = "decimal" }}
    {{- end }}
    {{- if not (eq $mantissa "") }}{{ $form = "decimal" }}{{ end }}
  {{- end }}
{{- else }}
  {{- $precision := sub (sub 18 (len $num)) (len $fraction) }}
  {{- $scale := sub $exponent (len $fraction) }}
  {{- $fast := and (ge $precision 0) (ge $scale -9) }}
  {{- $leading := ne (substr 0 1 $digits) "0" }}
  {{- if and $fast (eq (mod $scale 3) 0) (not (hasSuffix "000" $digits)) $leading }}{{ $text }}
  {{- else }}
    {{- $mantissa = $digits }}{{ $power = $scale }}
    {{- if lt $scale -9 }}
      {{- $drop := sub -9 $scale }}
      {{- $keep := sub (len $digits) $drop }}
      {{- $rest := $digits }}{{ $head := "" }}
      {{- if gt $keep 0 }}
        {{- $head = substr 0 (int $keep) $digits }}{{ $rest = substr (int $keep) -1 $digits }}
      {{- end }}
      {{- $head = regexReplaceAll "^0+" $head "" | default "0" }}
      {{- if regexMatch "[1-9]" $rest }}
        {{- /* rounded up to a nano: the digits plus one, as text (no size limit) */ -}}
        {{- $nines := regexFind "9*$" $head }}
        {{- $lead := trimSuffix $nines $head }}
        {{- $zeros := repeat (len $nines) "0" }}
        {{- if $lead }}
          {{- $last := int (sub (len $lead) 1) }}
          {{- $head = print (substr 0 $last $lead) (add1 (atoi (substr $last -1 $lead))) $zeros }}
        {{- else }}{{ $head = print "1" $zeros }}
        {{- end }}
      {{- end }}
      {{- $mantissa = $head }}{{ $power = -9 }}
    {{- end }}
  {{- end }}
{{- end }}
{{- if not (eq $mantissa "") }}
  {{- $mantissa = regexReplaceAll "^0+" $mantissa "" }}
  {{- $trimmed := regexReplaceAll "0+$" $mantissa "" }}
  {{- $power = add $power (sub (len $mantissa) (len $trimmed)) }}
  {{- $mantissa = $trimmed }}
  {{- $steps := mod $power 3 }}
  {{- if lt $steps 0 }}{{ $steps = add $steps 3 }}{{ end }}
  {{- $mantissa = print $mantissa (repeat (int $steps) "0") }}{{ $power = sub $power $steps }}
  {{- $names := dict "-9" "n" "-6" "u" "-3" "m" "0" "" "3" "k" "6" "M" "9" "G" }}
  {{- $names = merge $names (dict "12" "T" "15" "P" "18" "E") }}
  {{- if and (eq $form "decimal") (hasKey $names (toString $power)) }}
    {{- print $mantissa (index $names (toString $power)) }}
  {{- else if eq $power 0 }}{{ $mantissa }}
  {{- else }}{{ print $mantissa "e" $power }}
  {{- end }}
{{- end }}
{{- end }}

{{- /* (list key value allowed bounds): fails, naming the key, the value and the range. */ -}}
{{- define "journal-k8s.checkQuantity" -}}
{{- $key := index . 0 }}{{ $value := index . 1 }}{{ $allowed := index . 2 }}
{{- if include "journal-k8s.quantityOutOfRange" (list $value (index . 3)) }}
{{- fail (printf "%s: '%s' is not allowed: out of range: allowed %s" $key $value $allowed) }}
{{- end }}
{{- end }}
"""


def _set(data: Mapping[str, Any], key: Key) -> bool:
    """``key`` is set (not null) in ``data``."""
    value: Any = data
    for part in key:
        if not isinstance(value, Mapping) or value.get(part) is None:
            return False
        value = value[part]
    return True


def _in(tree: Tree, key: Key) -> bool:
    """``key`` is a value (a leaf) of ``tree``."""
    for part in key:
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return tree is None


def bounds_dict(bounds: Bounds) -> str:
    """Template text of ``bounds`` as ``journal-k8s.quantityOutOfRange`` takes them."""
    entries = [
        f'{_go_string(suffix)} (list {low[0]} "{low[1]}" {high[0]} "{high[1]}")'
        for suffix, (low, high) in binary_bounds(bounds).items()
    ]
    return "dict " + " ".join(entries)


def quantity_checks(quantities: Mapping[Key, Bounds]) -> str:
    """``templates/quantities.yaml``: each quantity key within its bounds, or the render fails.

    It renders nothing: Helm prints no document for it."""
    lines = [
        "{{- /* Generated by journal_tools.helm_chart: the bounds of the quantity keys, which "
        "the schema cannot compare (see _quantities.tpl). Renders nothing. */}}"
    ]
    named = {bounds.name: bounds for bounds in quantities.values()}
    for name, bounds in named.items():
        lines.append(f"{{{{- $bounds{name.capitalize()} := {bounds_dict(bounds)} }}}}")
    for key, bounds in quantities.items():
        path = " ".join(_go_string(part) for part in key)
        variable = f"$bounds{bounds.name.capitalize()}"
        arguments = f"{_go_string('.'.join(key))} . {_go_string(bounds.text)} {variable}"
        check = f'include "journal-k8s.checkQuantity" (list {arguments})'
        lines.append(f'{{{{- with dig {path} "" .Values.AsMap }}}}{{{{ {check} }}}}{{{{ end }}}}')
    return "\n".join(lines) + "\n"


class _Dumper(yaml.CSafeDumper):
    """YAML that Helm (YAML 1.1 in Go) and PyYAML read alike, with scripts as blocks; PyYAML's
    C emitter, as the manifests'."""


def _represent_str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if "\n" in value:
        # A "|+" block would lose its trailing newlines to Helm's whitespace trimming.
        style = '"' if value.endswith("\n\n") else "|"
    elif _AMBIGUOUS.match(value):
        style = "'"  # Go reads y/n and plain 1e3, 0o17, +inf as booleans and numbers
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=1000,
        allow_unicode=True,
    )


_VALUES_YAML = """\
# Deliberately empty: pick an environment with -f values-<env>.yaml (see values.schema.json).
"""
_VALUES_HEADER = """\
# Environment {environment!r}: generated by `python -m journal_tools.helm_chart` from
# environments/; regenerate it, do not edit it. It holds what differs between environments.
"""


def _chart_yaml(app_version: str) -> str:
    metadata = importlib.metadata.metadata(DISTRIBUTION)
    return _dump(
        {
            "apiVersion": "v2",
            "name": metadata["Name"],
            "description": metadata["Summary"],
            "type": "application",
            "version": metadata["Version"],
            "appVersion": app_version,
        }
    )


def _item_names(samples: list[Any]) -> list[str] | None:
    """The names of the items of lists ``samples`` in one order that keeps every list's
    order, when every item is a mapping with a ``name`` unique in its list; else ``None``."""
    if not all(isinstance(s, list) for s in samples):
        return None
    lists: list[list[str]] = []
    for sample in samples:
        names = [i.get("name") if isinstance(i, dict) else None for i in sample]
        strings = [n for n in names if isinstance(n, str)]
        if len(strings) != len(names) or len(set(strings)) != len(strings):
            return None
        lists.append(strings)
    union: list[str] = []
    for strings in lists:  # each new name right after the name before it in its list
        at = 0
        for name in strings:
            if name in union:
                at = union.index(name) + 1
            else:
                union.insert(at, name)
                at += 1
    for strings in lists:
        if strings != [n for n in union if n in strings]:
            return None
    return union


@functools.lru_cache(maxsize=4096)
def _literal_text(key: str | int, text: str) -> str:
    value = json.loads(text)
    return _dump([value] if isinstance(key, int) else {key: value})


def _literal(key: str | int, value: Any) -> str:
    """The YAML of a literal entry, cached by its JSON (which keeps the order of mappings):
    every probe of ``coupled`` writes the same ones."""
    return _literal_text(key, json.dumps(value))


def _canonical(value: Any) -> str:
    """One text per value: ``1``, ``1.0``, ``true`` and ``"1"`` all differ."""
    return json.dumps(value, sort_keys=True)


def _escape(text: str) -> str:
    """Literal text for a Go template: ``{{`` is printed by an action."""
    return text.replace("{{", '{{ "{{" }}')


def _go_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _ref(key: Key) -> str:
    """The template expression of a values key."""
    dotted = next((i for i, p in enumerate(key) if not _IDENTIFIER.fullmatch(p)), len(key))
    head = ".Values" + "".join(f".{part}" for part in key[:dotted])
    if dotted == len(key):
        return head
    return f"index {head} " + " ".join(_go_string(part) for part in key[dotted:])


def _has(key: Key) -> str:
    """The template condition "the values file has ``key``" (any parent may be missing)."""
    *parents, last = key
    if not parents:
        return f"hasKey .Values {_go_string(last)}"
    path = " ".join(_go_string(part) for part in parents)
    return f"hasKey (dig {path} (dict) .Values.AsMap) {_go_string(last)}"


def _key_text(key: str) -> str:
    if _PLAIN_KEY.fullmatch(key) and key.lower() not in _YAML11_WORDS:
        return key
    return _go_string(key)


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", text)


def _leaves(data: Mapping[str, Any], prefix: Key = ()) -> Iterator[tuple[Key, Any]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _put(tree: Tree, key: Key, value: Any) -> None:
    *parents, last = key
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def _pick(data: Mapping[str, Any], tree: Tree) -> dict[str, Any]:
    """The keys of ``tree`` in ``data``, in ``data``'s order."""
    picked: dict[str, Any] = {}
    for key, value in data.items():
        if key in tree:
            picked[key] = value if tree[key] is None else _pick(value, tree[key])
    return {key: value for key, value in picked.items() if value != {}}


def _config_map_names(workload: Manifest) -> set[str]:
    """The ConfigMaps a workload's pods use: volumes, ``env`` and ``envFrom``."""
    spec = (((workload.get("spec") or {}).get("template") or {}).get("spec")) or {}
    names = {v["configMap"]["name"] for v in spec.get("volumes") or [] if "configMap" in v}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for variable in container.get("env") or []:
            reference = (variable.get("valueFrom") or {}).get("configMapKeyRef")
            if reference:
                names.add(reference["name"])
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                names.add(source["configMapRef"]["name"])
    return names


def _check_round_trip(value: Any, where: Key) -> None:
    """Refuse numbers that Helm's float64 values would change."""
    if isinstance(value, dict):
        for item in value.values():
            _check_round_trip(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_round_trip(item, where)
    elif (isinstance(value, float) and value.is_integer()) or (
        type(value) is int and abs(value) > 2**53
    ):
        raise ChartError(
            f"{'.'.join(where)}: {value!r} differs between environments but cannot be a Helm "
            "value (Helm reads numbers as float64): make it a string or equal everywhere"
        )


def _prune(schema: Mapping[str, Any], tree: Tree | None, defs: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` cut down to the keys of ``tree`` (``None``: all of it), references inlined."""
    if "$ref" in schema:
        return _prune(defs[schema["$ref"].rsplit("/", 1)[1]], tree, defs)
    if tree is None:
        return dict(schema)
    if "anyOf" in schema:  # an optional model: the values files never hold null
        (model,) = [branch for branch in schema["anyOf"] if branch.get("type") != "null"]
        return _prune(model, tree, defs)
    pruned: dict[str, Any] = {k: schema[k] for k in ("title", "description") if k in schema}
    pruned["type"] = "object"
    if "properties" in schema:
        pruned["properties"] = {
            key: _prune(value, tree[key], defs)
            for key, value in schema["properties"].items()
            if key in tree
        }
    else:  # a mapping of any keys (labels): the keys the templates read, each as its values
        (value,) = schema.get("patternProperties", {}).values() or [schema["additionalProperties"]]
        pruned["properties"] = {key: _prune(value, tree[key], defs) for key in tree}
    required = [key for key in schema.get("required", ()) if key in tree]
    if required:
        pruned["required"] = required
    pruned["additionalProperties"] = False
    return pruned


def _observed(tree: Tree | None, samples: list[Any], key: str = "") -> dict[str, Any]:
    """A schema for ``samples``: the values at one key in every values file that has it."""
    if tree is None:
        return _sampled(key, samples)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            name: _observed(sub, [s[name] for s in samples if name in s], name)
            for name, sub in tree.items()
        },
    }
    required = [name for name in tree if all(name in sample for sample in samples)]
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _sampled(key: str, samples: list[Any]) -> dict[str, Any]:
    """A derived value's schema: its grammar when ``key`` is known, else its observed shape,
    down to leaves that may only take the values the environments produce.

    Mappings and lists are described down to their leaves (keys required where every sample
    has them, no others), so a derived value carries the constraints of what it derives from.
    """
    if key in DERIVED_SCHEMAS:
        return DERIVED_SCHEMAS[key]
    if samples and all(isinstance(sample, dict) for sample in samples):
        names = list(dict.fromkeys(name for sample in samples for name in sample))
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                name: _sampled(name, [s[name] for s in samples if name in s]) for name in names
            },
            "additionalProperties": False,
        }
        required = [name for name in names if all(name in sample for sample in samples)]
        if required:
            schema["required"] = required
        return schema
    if samples and all(isinstance(sample, list) for sample in samples):
        items = [item for sample in samples for item in sample]
        return {"type": "array", "items": _sampled(key, items)} if items else {"type": "array"}
    types = sorted({_JSON_TYPES[type(sample)] for sample in samples})
    schema = {"type": types[0] if len(types) == 1 else types}
    # A value the constructs compute and no values key feeds (a script, a probe, a port):
    # only what the constructs produce for some environment is allowed.
    return {**schema, "enum": list(dict.fromkeys(samples))} if samples else schema


class _Planner:
    """Compares each object across environments; collects the values the templates read."""

    def __init__(
        self,
        settings: Mapping[str, Mapping[str, Any]],
        quantities: Collection[Key] = (),
        variants: Mapping[str, str] | None = None,
        probes: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.quantities = set(quantities)
        self.flipped = dict(variants or {})
        """Each environment with ``SWITCH`` flipped: the environment it flips."""
        self.probes = set(probes or {})
        """The environments built to test a change of one setting (``coupled``)."""
        self.conflicts: set[tuple[str, str]] = set()
        """The objects whose values a probe would change, as (kind, name)."""
        origins = self.flipped | dict(probes or {})
        self.real = {}
        """Each environment's values file: its own, or that of the one it is a variant of."""
        for env in settings:
            real = env
            while real in origins:
                real = origins[real]
            self.real[env] = real
        self.names: dict[str, tuple[str, str]] = {}
        """Each object's kind and name, by its template file and by its values key."""
        self.leaves: dict[Key, dict[str, str]] = {}
        for environment, data in settings.items():
            for key, value in _leaves(data):
                self.leaves.setdefault(key, {})[environment] = _canonical(value)
        self.used: Tree = {}
        self.derived: Tree = {}
        self.objects: Tree = {}
        self.values: dict[str, Tree] = {real: {} for env, real in self.real.items() if env == real}
        self.config_maps: dict[str, tuple[str, dict[str, Mapping[str, str]]]] = {}
        """Each ConfigMap by name: its template file and its data in each environment."""
        self.current: Mapping[str, Manifest] = {}
        """The object whose template is being written, in each environment."""

    def templates(self, resources: Mapping[str, Sequence[Resource]]) -> dict[str, str]:
        """One template per object (file name to text), objects matched by construct path."""
        present: dict[str, dict[str, Manifest]] = {}
        for environment, objects in resources.items():
            for resource in objects:
                present.setdefault(resource.id, {})[environment] = resource.manifest
        named: dict[str, tuple[str, str]] = {}
        owners: dict[str, str] = {}
        for resource_id, manifests in present.items():
            kind = next(iter(manifests.values()))["kind"]
            names = {m["metadata"]["name"] for m in manifests.values()}
            words = _words(kind) + _words(names.pop() if len(names) == 1 else resource_id)
            key = words[0].lower() + "".join(word.capitalize() for word in words[1:])
            if key in owners:
                raise ChartError(f"{owners[key]} and {resource_id} both get the values key {key}")
            owners[key] = resource_id
            named[resource_id] = key, "-".join(word.lower() for word in words) + ".yaml"
            label = kind, "/".join(sorted({m["metadata"]["name"] for m in manifests.values()}))
            self.names[key] = self.names[named[resource_id][1]] = label
            if (
                kind == "ConfigMap"
                and len({m["metadata"]["name"] for m in manifests.values()}) == 1
            ):
                data = {env: m.get("data", {}) for env, m in manifests.items()}
                name = next(iter(manifests.values()))["metadata"]["name"]
                self.config_maps[name] = named[resource_id][1], data
        return {
            file: self._template(resource_id, key, present[resource_id])
            for resource_id, (key, file) in named.items()
        }

    def values_files(self) -> dict[str, Tree]:
        """Each environment's values: the settings read by templates, then the sections."""
        return {
            environment: _pick(self.settings[environment], self.used)
            | {section: values[section] for section in SECTIONS if section in values}
            for environment, values in self.values.items()
        }

    def computed_checks(self, computed: Mapping[Key, Coupled]) -> str:
        """``templates/computed-with.yaml``, and the values it reads: each coupled setting
        (``coupled``) at its value of the export wherever other fields were computed from it,
        or the render fails. It renders nothing."""
        names: dict[str, Key] = {}
        for key in computed:
            words = [word for part in key for word in _words(part)]
            name = words[0].lower() + "".join(word.capitalize() for word in words[1:])
            if name in names:
                raise ChartError(f"{'.'.join(names[name])} and {'.'.join(key)} both get {name}")
            names[name] = key
        _put(self.derived, (COMPUTED_WITH,), {})
        for name, key in names.items():
            _put(self.derived, (COMPUTED_WITH, name), None)
            for env, value in computed[key].values.items():
                _put(self.values[env], ("derived", COMPUTED_WITH, name), value)
        _put(self.derived, (VALUES_FILE,), None)
        for env, values in self.values.items():
            if COMPUTED_WITH in values.get("derived", {}):
                _put(values, ("derived", VALUES_FILE), f"values-{env}.yaml")
        lines = [
            "{{- /* Generated by journal_tools.helm_chart: the settings that other fields were "
            "computed from at export (derived.computedWith) keep that value. Renders nothing. */}}",
            f'{{{{- $computed := dig "derived" {_go_string(COMPUTED_WITH)} (dict) '
            ".Values.AsMap }}",
            f'{{{{- $file := dig "derived" {_go_string(VALUES_FILE)} "its values file" '
            ".Values.AsMap }}",
        ]
        for name, key in names.items():
            path = " ".join(_go_string(part) for part in key)
            dotted = ".".join(key)
            message = (
                f"{dotted}: '%v' is not allowed: this chart's %s was exported with '%v', and "
                f"other fields ({computed[key].what}) are computed from it; change "
                "environments/ and run 'make helm' again"
            )
            same = "eq (toJson $value) (toJson $with)"
            if key in self.quantities:
                canonical = 'include "journal-k8s.quantity" (toString {})'
                same = f"eq ({canonical.format('$value')}) ({canonical.format('$with')})"
            lines += [
                f"{{{{- if hasKey $computed {_go_string(name)} }}}}",
                f"  {{{{- $with := index $computed {_go_string(name)} }}}}",
                f'  {{{{- $value := dig {path} "" .Values.AsMap }}}}',
                f"  {{{{- if not ({same}) }}}}",
                f"    {{{{- fail (printf {_go_string(message)} $value $file $with) }}}}",
                "  {{- end }}",
                "{{- end }}",
            ]
        return "\n".join(lines) + "\n"

    def changed_objects(
        self, files: Mapping[str, str], changed: Mapping[str, str]
    ) -> set[tuple[str, str]]:
        """The objects whose templates or values differ between the chart ``files`` and the
        chart ``changed`` of this planner, as (kind, name)."""
        objects = set(self.conflicts)
        for path in sorted(set(files) | set(changed)):
            if files.get(path) == changed.get(path):
                continue
            name = path.removeprefix("templates/")
            if name in self.names:
                objects.add(self.names[name])
            elif path.startswith("values-") and path in files and path in changed:
                old, new = (yaml.load(f[path], Loader=yaml.CSafeLoader) for f in (files, changed))
                for section in SECTIONS:
                    before, after = old.get(section, {}), new.get(section, {})
                    for key in set(before) | set(after):
                        if before.get(key) != after.get(key):
                            objects.add(self.names.get(key, ("", "other fields")))
                if {k: v for k, v in old.items() if k not in SECTIONS} != {
                    k: v for k, v in new.items() if k not in SECTIONS
                }:
                    objects.add(("", "other fields"))
            elif path != "values.schema.json":
                objects.add(("", "other fields"))
        return objects

    def schema(self, settings_schema: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON schema of the values files (draft 7, what Helm validates)."""
        schema = _prune(settings_schema, self.used, settings_schema.get("$defs", {}))
        sections = {"derived": self.derived, "objects": self.objects}
        observed = _observed(
            {name: tree for name, tree in sections.items() if tree},
            list(self.values_files().values()),
        )
        schema["properties"] |= observed["properties"]
        schema["required"] = schema.get("required", []) + observed.get("required", [])
        schema["description"] = (
            "One environment's values, generated from environments/: the settings that "
            "differ between environments, derived fields and optional objects."
        )
        return {"$schema": "http://json-schema.org/draft-07/schema#", **schema}

    def _template(self, resource_id: str, key: str, manifests: dict[str, Manifest]) -> str:
        self.current = manifests
        lines = [f"{{{{- /* {resource_id}: generated by journal_tools.helm_chart */}}}}"]
        optional = len(manifests) < len(self.settings)
        body = self._mapping(manifests, 0, ("derived", key))
        if optional:
            lines.append(
                f"{{{{- if {self._presence(set(manifests), list(self.settings), key, body)} }}}}"
            )
        lines += body
        if optional:
            lines.append("{{- end }}")
        return "\n".join(lines) + "\n"

    def _presence(
        self, present: set[str], scope: Sequence[str], key: str, body: Sequence[str]
    ) -> str:
        """The condition of an object present in some environments of ``scope`` only: the
        setting ``SWITCH`` where flipping it adds or removes the object, then the settings
        mapping the object reads that is set exactly where it is (``_owner``), else the
        boolean ``objects.<key>``."""
        if self._switched(dict.fromkeys(present, True), scope):
            conditions = []
            for side, part in self._sides(scope).items():
                inside = present.intersection(part)
                if not inside:
                    continue
                condition = _ref(SWITCH) if side else f"not {_ref(SWITCH)}"
                if len(inside) < len(part):
                    condition = f"and ({condition}) ({self._presence(inside, part, key, body)})"
                conditions.append(condition)
            return (
                conditions[0] if len(conditions) == 1 else f"or ({conditions[0]}) ({conditions[1]})"
            )
        owner = self._owner(present, scope, body)
        if owner is not None:
            return _has(owner)
        _put(self.objects, (key,), None)
        for env in scope:
            self._store(env, ("objects", key), env in present)
        return _ref(("objects", key))

    def _owner(self, present: set[str], scope: Sequence[str], body: Sequence[str]) -> Key | None:
        """The settings mapping that an optional object's template reads and that is set
        exactly where the object is present in ``scope`` (``frontend.autoscaling`` for the
        API's autoscaler), to guard it by; ``None`` when there is none."""
        for text in dict.fromkeys(
            re.findall(r"\.Values\.([A-Za-z][A-Za-z0-9_.]*)", "\n".join(body))
        ):
            parts = tuple(text.split("."))
            for end in range(len(parts) - 1, 0, -1):
                parent = parts[:end]
                if parent[0] in ("derived", "objects"):
                    break
                if all(_set(self.settings[env], parent) == (env in present) for env in scope):
                    return parent
        return None

    def _sides(self, scope: Iterable[str]) -> dict[bool, list[str]]:
        """The environments of ``scope`` by their setting of ``SWITCH``."""
        seen = self.leaves.get(SWITCH, {})
        sides: dict[bool, list[str]] = {True: [], False: []}
        for env in scope:
            sides[seen.get(env) == "true"].append(env)
        return sides

    def _switched(self, present: Mapping[str, Any], scope: Iterable[str]) -> bool:
        """Flipping ``SWITCH`` changes a field (given where ``present``), whether it is there or
        its value, in some environment of ``scope`` whose variant is in ``scope`` too."""
        within = set(scope)
        for env, real in self.flipped.items():
            if env not in within or real not in within:
                continue
            if (env in present) != (real in present):
                return True
            if env in present and _canonical(present[env]) != _canonical(present[real]):
                return True
        return False

    def _branches(
        self, scope: Iterable[str], where: Key, render: Callable[[list[str], Key], list[str]]
    ) -> list[str]:
        """Lines of ``render`` for the environments of ``scope`` with ``SWITCH`` on, then off,
        under ``if``/``else``; each side's derived values at ``where`` with its ``BRANCHES``
        key before the last key."""
        _put(self.used, SWITCH, None)
        lines = [f"{{{{- if {_ref(SWITCH)} }}}}"]
        for side, part in self._sides(scope).items():
            rendered = render(part, (*where[:-1], BRANCHES[side], where[-1]))
            if not side and rendered:
                lines.append("{{- else }}")
            lines += rendered
        return [*lines, "{{- end }}"]

    def _store(self, env: str, key: Key, value: Any) -> None:
        """``value`` at ``key`` in the values file of ``env`` (a variant's is its original's)."""
        values = self.values[self.real[env]]
        node: Any = values
        for part in key:
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
        if node != _ABSENT and _canonical(node) != _canonical(value):
            if env in self.probes:  # a value of its environment's file would change
                self.conflicts.add(self.names.get(key[1], ("", "other fields")))
                return
            raise ChartError(
                f"{'.'.join(key)}: differs with {'.'.join(SWITCH)} in environment "
                f"{self.real[env]!r}, where it cannot"
            )
        _put(values, key, value)

    def _mapping(self, present: Mapping[str, Manifest], indent: int, where: Key) -> list[str]:
        """Lines of the mappings ``present`` has (one per environment), at ``indent``."""
        lines = []
        keys = list(dict.fromkeys(key for mapping in present.values() for key in mapping))
        for key in keys:
            child = {env: mapping[key] for env, mapping in present.items() if key in mapping}
            lines += self._member(key, child, present, indent, (*where, key))
        return lines

    def _member(
        self,
        key: str | int,
        child: Mapping[str, Any],
        scope: Mapping[str, Any],
        indent: int,
        where: Key,
    ) -> list[str]:
        """Lines of a mapping entry (``key`` a string) or named list item (an index) that the
        environments ``child`` have, of those of ``scope``: where ``SWITCH`` adds or changes
        it, one side of the switch each; else, where some environments lack it, read whole
        from the values under ``hasKey``."""
        if len(child) == len(scope):
            return self._entry(key, child, indent, where)
        if not child:
            return []
        if self._switched(child, scope):

            def side(part: list[str], at: Key) -> list[str]:
                own = {env: child[env] for env in part if env in child}
                return self._member(key, own, {env: scope[env] for env in part}, indent, at)

            return self._branches(scope, where, side)
        ref = self._value(where, child, scope)
        head = _escape(" " * indent + ("-" if isinstance(key, int) else _key_text(key) + ":"))
        return [f"{{{{- if {_has(ref)} }}}}", f"{head} {self._read(ref)}", "{{- end }}"]

    def _entry(
        self, key: str | int, present: Mapping[str, Any], indent: int, where: Key
    ) -> list[str]:
        """Lines of one mapping entry (``key`` a string) or list item (an index)."""
        samples = list(present.values())
        if len({_canonical(sample) for sample in samples}) == 1:
            text = _literal(key, samples[0])
            return [_escape(" " * indent + line) if line else "" for line in text.splitlines()]
        head = _escape(" " * indent + ("-" if isinstance(key, int) else _key_text(key) + ":"))
        if all(isinstance(s, dict) for s in samples) and set.intersection(*map(set, samples)):
            body = self._mapping(present, indent + 2, where)
        elif all(isinstance(s, list) for s in samples) and len(set(map(len, samples))) == 1:
            body = []
            for index in range(len(samples[0])):
                item = {env: sample[index] for env, sample in present.items()}
                body += self._entry(index, item, indent + 2, (*where, str(index)))
        elif (names := _item_names(samples)) is not None:
            body = self._named_items(names, present, indent + 2, where)
        else:
            hashed = self._config_hash(where, present)
            if hashed is not None:
                return [f"{head} {hashed}"]
            if self._switched(present, present):

                def side(part: list[str], at: Key) -> list[str]:
                    return self._entry(key, {env: present[env] for env in part}, indent, at)

                return self._branches(present, where, side)
            ref = self._value(where, present, present)
            return [f"{head} {self._read(ref)}"]
        if isinstance(key, int) and not body[0].startswith("{{"):
            return [f"{head} {body[0][indent + 2 :]}", *body[1:]]
        return [head, *body]

    def _named_items(
        self, names: list[str], present: Mapping[str, list[Any]], indent: int, where: Key
    ) -> list[str]:
        """Lines of a list of named items (containers, volumes, ports) whose lengths differ:
        an item of every environment is compared field by field, any other one is read whole
        from the values under ``hasKey`` (``derived.<...>.<list>.<item name>``)."""
        lines = []
        for index, name in enumerate(names):
            item = {
                env: next(i for i in items if i["name"] == name)
                for env, items in present.items()
                if any(i["name"] == name for i in items)
            }
            lines += self._member(index, item, present, indent, (*where, name))
        return lines

    def _config_hash(self, where: Key, present: Mapping[str, Any]) -> str | None:
        """A pod's config-hash annotation, computed by Helm from the ConfigMap it hashes.

        So a ConfigMap value changed with ``--set`` or a values file still rolls the pods.
        ``None`` unless the field is that annotation and exactly one ConfigMap that the pod
        uses hashes to it in every environment.
        """
        if where[-1] != CONFIG_HASH_ANNOTATION:
            return None
        used = set.intersection(*(_config_map_names(m) for m in self.current.values()))
        files = [
            file
            for name, (file, data) in self.config_maps.items()
            if name in used
            and all(env in data and content_hash(data[env]) == v for env, v in present.items())
        ]
        if len(files) != 1:
            return None
        config = f'(include (print $.Template.BasePath "/{files[0]}") $ | fromYaml).data'
        return (
            f'{{{{ $data := {config} | default dict }}}}{{{{ $text := "" }}}}'
            "{{ range $name := keys $data | sortAlpha }}"
            '{{ $text = print $text $name "\\x00" (index $data $name) "\\x00" }}'
            "{{ end }}{{ sha256sum $text | trunc 16 | toJson }}"
        )

    def _read(self, ref: Key) -> str:
        """The template text of a values key; a quantity as the API server stores it."""
        if ref in self.quantities:
            return f'{{{{ include "journal-k8s.quantity" ({_ref(ref)}) | toJson }}}}'
        return f"{{{{ {_ref(ref)} | toJson }}}}"

    def _value(self, where: Key, present: Mapping[str, Any], scope: Mapping[str, Any]) -> Key:
        """The values key of a field: a setting equal to it everywhere, else ``where``.

        A setting matches when, in every environment of ``scope`` (where the field's parent
        exists), it has the field's value, or is absent where the field is absent; with no
        match or several, the field's own values go to ``derived`` at ``where``.
        """
        for value in present.values():
            _check_round_trip(value, where)
        wanted = {env: _canonical(present[env]) if env in present else _ABSENT for env in scope}
        matches = [
            key
            for key, seen in self.leaves.items()
            if all(seen.get(env, _ABSENT) == text for env, text in wanted.items())
        ]
        if len(matches) == 1:
            _put(self.used, matches[0], None)
            return matches[0]
        _put(self.derived, where[1:], None)
        for environment, value in present.items():
            self._store(environment, where, value)
        return where


if __name__ == "__main__":
    sys.exit(main())
