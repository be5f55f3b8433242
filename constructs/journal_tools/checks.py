"""Synth-time integrity and security checks over one environment's manifests.

``problems(objects, external_secrets=...)`` returns one line per violation, each naming the
object (``Kind namespace/name``), the field path, the value and what is allowed. The rules the
library enforces at every synth (``journal_k8s.rules``: duplicates, labels, routes and their
claims, pod security) run here too, beside the project's stricter ones (the synth, whose
manifests the library has just validated, skips those the library ran over every object).
Rules:

- references: Service selectors and ``targetPort``, Ingress backends, StatefulSet
  ``serviceName``, ConfigMap and Secret references resolve inside the synth (or to a
  declared external Secret); HTTPRoute backends are Services of the synth with that port
  (in another namespace only with a ReferenceGrant there), and its ``parentRefs`` name
  Gateways (group, kind, a name and a namespace, each parent once); no two Ingresses of one
  class, nor two HTTPRoutes of one listener, route the same host and path;
- names and labels: DNS names within their limits, valid label keys and values, no duplicate
  objects, no label or selector built on the cdk8s construct-path hash;
- security: every pod template meets the Pod Security Standard ``restricted``, every
  Namespace enforces it, and no Secret carries data;
- capacity: the library's rules (``journal_k8s.capacity_problems``): every ResourceQuota
  holds its workloads at their most (autoscalers' ``maxReplicas`` and the rollout surge
  included), autoscalers have requests to scale on, budgets allow no full outage.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from journal_k8s import capacity_problems, grammar, rules

from .selectors import pod_labels, selects_any

Manifest = Mapping[str, Any]


def problems(
    objects: Sequence[Manifest],
    *,
    external_secrets: Collection[str] = (),
    validated: bool = False,
) -> list[str]:
    """Every violation in one environment's manifests; an empty list when they are sound.

    Args:
        objects: the environment's manifests, as plain dicts.
        external_secrets: names of Secrets that exist in the cluster but not in the synth;
            references to them are allowed. Default: none.
        validated: the library's validation of the app passed over exactly these manifests
            (as in a synth of journal constructs), so its rules over every object
            (duplicates, claims, labels, capacity) are not run a second time. Default: false.
    """
    again = not validated
    return [
        *(_shared(rules.duplicates(objects)) if again else ()),
        *(_shared(rules.claims(objects)) if again else ()),
        *_names(objects),
        *(_shared(rules.labels(objects)) if again else ()),
        *_path_hash_labels(objects),
        *_services(objects),
        *_shared(rules.routes(objects)),
        *_parent_refs(objects),
        *_stateful_sets(objects),
        *_references(objects, external_secrets),
        *_shared(rules.pod_security(objects)),
        *_namespaces(objects),
        *_secrets(objects),
        *(capacity_problems(objects) if again else ()),
    ]


def _shared(found: Iterator[rules.Problem]) -> Iterator[str]:
    """The library's rules, reported like the checks here."""
    return (_problem(p.obj, p.field, p.message) for p in found)


def _problem(obj: Manifest, path: str, message: str) -> str:
    return f"{rules.where(obj)}: {path}: {message}"


def _of_kind(objects: Sequence[Manifest], kind: str) -> dict[tuple[str, str], Manifest]:
    return {rules.key(o): o for o in objects if o.get("kind") == kind}


_NAME_GRAMMARS = {
    "Service": (grammar.is_dns_1035_label, grammar.DNS_LABEL_MAX, "a DNS-1035 label"),
    "Namespace": (grammar.is_dns_label, grammar.DNS_LABEL_MAX, "a DNS-1123 label"),
}
_SUBDOMAIN = (grammar.is_dns_subdomain, grammar.DNS_SUBDOMAIN_MAX, "a DNS-1123 subdomain")
"""How an object's name is checked, by kind (any other kind: a DNS-1123 subdomain)."""


def _names(objects: Sequence[Manifest]) -> Iterator[str]:
    for obj in objects:
        name = rules.get(obj, "metadata", "name")
        valid, limit, expected = _NAME_GRAMMARS.get(str(obj.get("kind")), _SUBDOMAIN)
        if not valid(name):
            yield _problem(
                obj,
                "metadata.name",
                f"{name!r} is not allowed: expected {expected} of at most {limit} characters",
            )


PATH_HASH_LABEL = "cdk8s.io/metadata.addr"


def _path_hash_labels(objects: Sequence[Manifest]) -> Iterator[str]:
    """No label or selector holds cdk8s's hash of the construct path."""
    for obj in objects:
        for path, found in rules.label_maps(obj):
            if isinstance(found, Mapping) and PATH_HASH_LABEL in found:
                yield _problem(
                    obj,
                    f"{path}[{PATH_HASH_LABEL!r}]",
                    f"the label {PATH_HASH_LABEL!r} is not allowed: it holds a hash of the "
                    "construct path, which changes when a construct is renamed; use explicit "
                    "app.kubernetes.io/* labels",
                )


def _services(objects: Sequence[Manifest]) -> Iterator[str]:
    workloads = [(obj, template) for obj, _, template in rules.pod_templates(objects)]
    for service in objects:
        selector = rules.get(service, "spec", "selector")
        if service.get("kind") != "Service" or not selector or not isinstance(selector, Mapping):
            continue
        matched = [
            (obj, template)
            for obj, template in workloads
            if rules.key(obj)[0] == rules.key(service)[0]
            and selects_any({"matchLabels": selector}, pod_labels(obj, template))
        ]
        if len(matched) != 1:
            found = ", ".join(rules.where(obj) for obj, _ in matched) or "none"
            yield _problem(
                service,
                "spec.selector",
                f"{dict(selector)!r} selects the pods of {len(matched)} workloads ({found}): "
                "expected the pods of exactly one workload in the same namespace",
            )
            continue
        workload, template = matched[0]
        names: set[str] = set()
        numbers: set[int] = set()
        for _, container in rules.containers(template.get("spec") or {}, ""):
            for port in container.get("ports") or []:
                names.add(port.get("name"))
                numbers.add(port.get("containerPort"))
        for index, port in enumerate(rules.get(service, "spec", "ports") or []):
            target = port.get("targetPort", port.get("port"))
            if target not in (names if isinstance(target, str) else numbers):
                allowed = sorted(str(p) for p in (names | numbers) - {None})
                yield _problem(
                    service,
                    f"spec.ports[{index}].targetPort",
                    f"{target!r} is not a container port of {rules.where(workload)}: expected one "
                    f"of {allowed}",
                )


def _parent_refs(objects: Sequence[Manifest]) -> Iterator[str]:
    for route in (o for o in objects if o.get("kind") == "HTTPRoute"):
        yield from _route_parent_refs(route)


def _route_parent_refs(route: Manifest) -> Iterator[str]:
    """Each parentRef names a Gateway by group, kind, name and namespace, and only once."""
    refs = rules.get(route, "spec", "parentRefs") or []
    if not refs:
        yield _problem(route, "spec.parentRefs", "missing: expected at least one Gateway")
    seen: set[tuple[Any, ...]] = set()
    for index, ref in enumerate(refs):
        path = f"spec.parentRefs[{index}]"
        group, kind = ref.get("group", rules.GATEWAY_GROUP), ref.get("kind", "Gateway")
        if (group, kind) != (rules.GATEWAY_GROUP, "Gateway"):
            yield _problem(
                route,
                path,
                f"group {group!r} kind {kind!r} is not allowed: expected a Gateway "
                "(group gateway.networking.k8s.io)",
            )
        for name_field in ("name", "namespace", "sectionName"):
            value = ref.get(name_field)
            valid = grammar.is_dns_label if name_field == "namespace" else grammar.is_dns_subdomain
            if (value is not None or name_field != "sectionName") and not valid(value):
                yield _problem(
                    route,
                    f"{path}.{name_field}",
                    f"{value!r} is not allowed: expected a DNS name (the Gateway's "
                    f"{name_field}, set explicitly)",
                )
        identity = (group, kind, ref.get("namespace"), ref.get("name"), ref.get("sectionName"))
        if identity in seen:
            yield _problem(route, path, f"{ref!r} is not allowed: this parent is named twice")
        seen.add(identity)


def _stateful_sets(objects: Sequence[Manifest]) -> Iterator[str]:
    services = _of_kind(objects, "Service")
    for stateful_set in (o for o in objects if o.get("kind") == "StatefulSet"):
        name = rules.get(stateful_set, "spec", "serviceName")
        service = services.get((rules.key(stateful_set)[0], name))
        if service is None or rules.get(service, "spec", "clusterIP") != "None":
            found = "missing" if service is None else "not headless"
            yield _problem(
                stateful_set,
                "spec.serviceName",
                f"{name!r} is not allowed ({found}): expected the name of a headless Service "
                "(clusterIP: None) of this synth, which gives every pod its DNS name",
            )


def _references(objects: Sequence[Manifest], external_secrets: Collection[str]) -> Iterator[str]:
    config_maps = _of_kind(objects, "ConfigMap")
    secrets = set(_of_kind(objects, "Secret"))
    for obj, path, template in rules.pod_templates(objects):
        namespace = rules.key(obj)[0]
        for field, kind, name, keys, _use in config_references(template.get("spec") or {}, path):
            if kind == "Secret":
                if (namespace, name) not in secrets and name not in external_secrets:
                    known = {n for ns, n in secrets if ns == namespace} | set(external_secrets)
                    yield _problem(obj, field, _unknown(name, kind, known))
            elif (config_map := config_maps.get((namespace, name))) is None:
                known = {n for ns, n in config_maps if ns == namespace}
                yield _problem(obj, field, _unknown(name, kind, known))
            else:
                present = {**(config_map.get("data") or {}), **(config_map.get("binaryData") or {})}
                for key_field, key in keys:
                    if key not in present:
                        yield _problem(
                            obj,
                            key_field,
                            f"{key!r} is not a key of {rules.where(config_map)}: expected one of "
                            f"{sorted(present)}",
                        )


def _unknown(name: Any, kind: str, known: Collection[str]) -> str:
    return (
        f"{name!r} is not a {kind} of this synth or a declared external Secret: expected one "
        f"of {sorted(known)}"
    )


class Reference(NamedTuple):
    """A ConfigMap or Secret that a pod uses."""

    field: str
    """The path of the field that names it."""
    kind: str
    name: Any
    keys: list[tuple[str, Any]]
    """The path and the key of each ConfigMap key it reads."""
    use: str
    """How the pod uses it: ``volume <name>``, ``env <variable>`` or ``envFrom``."""


def config_references(spec: Mapping[str, Any], path: str) -> Iterator[Reference]:
    """Each ConfigMap or Secret the pod ``spec`` (at ``path``) uses, in volumes and variables."""
    spec_path = rules.join(path, "spec")
    for v, volume in enumerate(spec.get("volumes") or []):
        where, use = f"{spec_path}.volumes[{v}]", f"volume {volume.get('name')}"
        projected = enumerate(rules.get(volume, "projected", "sources") or [])
        sources = [(where, volume, "secretName")]
        sources += [(f"{where}.projected.sources[{s}]", source, "name") for s, source in projected]
        for at, source, secret_field in sources:
            if "configMap" in source:
                keys = _item_keys(rules.get(source, "configMap", "items"), f"{at}.configMap")
                name = rules.get(source, "configMap", "name")
                yield Reference(f"{at}.configMap.name", "ConfigMap", name, keys, use)
            if "secret" in source:
                name = rules.get(source, "secret", secret_field)
                yield Reference(f"{at}.secret.{secret_field}", "Secret", name, [], use)
    for container_path, container in rules.containers(spec, spec_path):
        for e, variable in enumerate(container.get("env") or []):
            ref_path, use = f"{container_path}.env[{e}].valueFrom", f"env {variable.get('name')}"
            if (ref := rules.get(variable, "valueFrom", "configMapKeyRef")) is not None:
                name_path = f"{ref_path}.configMapKeyRef"
                keys = [(f"{name_path}.key", ref.get("key"))]
                yield Reference(f"{name_path}.name", "ConfigMap", ref.get("name"), keys, use)
            if (ref := rules.get(variable, "valueFrom", "secretKeyRef")) is not None:
                yield Reference(f"{ref_path}.secretKeyRef.name", "Secret", ref.get("name"), [], use)
        for e, source in enumerate(container.get("envFrom") or []):
            for ref_kind, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if ref_kind in source:
                    field = f"{container_path}.envFrom[{e}].{ref_kind}.name"
                    yield Reference(field, kind, rules.get(source, ref_kind, "name"), [], "envFrom")


def _item_keys(items: Any, path: str) -> list[tuple[str, Any]]:
    return [(f"{path}.items[{i}].key", item.get("key")) for i, item in enumerate(items or [])]


def _namespaces(objects: Sequence[Manifest]) -> Iterator[str]:
    namespaces = {name: obj for (_, name), obj in _of_kind(objects, "Namespace").items()}
    for namespace in namespaces.values():
        level = rules.get(namespace, "metadata", "labels", rules.POD_SECURITY_LABEL)
        if level != "restricted":
            yield _problem(
                namespace,
                f"metadata.labels[{rules.POD_SECURITY_LABEL!r}]",
                f"{level!r} is not allowed: expected 'restricted', so the API server rejects "
                "pods that break the Pod Security Standard",
            )
    for obj, _, _ in rules.pod_templates(objects):
        if rules.key(obj)[0] not in namespaces:
            yield _problem(
                obj,
                "metadata.namespace",
                f"{rules.key(obj)[0]!r} is not a Namespace of this synth: expected the synth to "
                f"create its namespace with {rules.POD_SECURITY_LABEL}: restricted",
            )


def _secrets(objects: Sequence[Manifest]) -> Iterator[str]:
    for secret in (o for o in objects if o.get("kind") == "Secret"):
        for field in ("data", "stringData"):
            if secret.get(field):
                yield _problem(
                    secret,
                    field,
                    f"keys {sorted(secret[field])} are not allowed: secret values must never "
                    "be written to the manifests; reference an existing Secret instead",
                )
