"""Synth-time integrity and security checks over one environment's manifests.

``problems(objects, external_secrets=...)`` returns one line per violation, each naming the
object (``Kind namespace/name``), the field path, the value and what is allowed. Rules:

- references: Service selectors and ``targetPort``, Ingress backends, StatefulSet
  ``serviceName``, ConfigMap and Secret references resolve inside the synth (or to a
  declared external Secret); HTTPRoute backends are Services of the synth with that port
  (in another namespace only with a ReferenceGrant there), and its ``parentRefs`` name
  Gateways (group, kind, a name and a namespace, each parent once);
- names and labels: DNS names within their limits, valid label keys and values, no duplicate
  objects, no label or selector built on the cdk8s construct-path hash;
- security: every pod template meets the Pod Security Standard ``restricted``, every
  Namespace enforces it, and no Secret carries data;
- capacity: the library's rules (``journal_k8s.capacity_problems``): every ResourceQuota
  holds its workloads at their most (autoscalers' ``maxReplicas`` and the rollout surge
  included), autoscalers have requests to scale on, budgets allow no full outage.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from journal_k8s import capacity_problems, grammar

from .selectors import pod_labels, selects_any

Manifest = Mapping[str, Any]

PATH_HASH_LABEL = "cdk8s.io/metadata.addr"
POD_SECURITY_LABEL = "pod-security.kubernetes.io/enforce"
RESTRICTED = "Pod Security Standard 'restricted'"

_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


_ALLOWED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_ALLOWED_SECCOMP = ("RuntimeDefault", "Localhost")
_ALLOWED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


def problems(objects: Sequence[Manifest], *, external_secrets: Collection[str] = ()) -> list[str]:
    """Every violation in one environment's manifests; an empty list when they are sound.

    Args:
        objects: the environment's manifests, as plain dicts.
        external_secrets: names of Secrets that exist in the cluster but not in the synth;
            references to them are allowed. Default: none.
    """
    return [
        *_duplicates(objects),
        *_names(objects),
        *_labels(objects),
        *_services(objects),
        *_ingresses(objects),
        *_http_routes(objects),
        *_stateful_sets(objects),
        *_references(objects, external_secrets),
        *_pod_security(objects),
        *_namespaces(objects),
        *_secrets(objects),
        *capacity_problems(objects),
    ]


def _where(obj: Manifest) -> str:
    """``Kind namespace/name``, or ``Kind name`` for a cluster-scoped object."""
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    name = metadata.get("name")
    return f"{obj.get('kind')} {namespace}/{name}" if namespace else f"{obj.get('kind')} {name}"


def _problem(obj: Manifest, path: str, message: str) -> str:
    return f"{_where(obj)}: {path}: {message}"


def _key(obj: Manifest) -> tuple[str, str]:
    """The namespace and name of an object."""
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace") or "", metadata.get("name") or ""


def _of_kind(objects: Sequence[Manifest], kind: str) -> dict[tuple[str, str], Manifest]:
    return {_key(o): o for o in objects if o.get("kind") == kind}


def _get(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or ``None`` where a level is missing."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _pod_templates(
    objects: Sequence[Manifest],
) -> Iterator[tuple[Manifest, str, Mapping[str, Any]]]:
    """Each workload's pod template with its field path (a Pod is its own template)."""
    for obj in objects:
        kind = obj.get("kind", "")
        if kind == "Pod":
            yield obj, "", obj
        elif kind in _TEMPLATE_PATHS and isinstance(_get(obj, *_TEMPLATE_PATHS[kind]), Mapping):
            yield obj, ".".join(_TEMPLATE_PATHS[kind]), _get(obj, *_TEMPLATE_PATHS[kind])


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def _containers(spec: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(spec.get(field) or []):
            yield f"{path}.{field}[{index}]", container


def _identity(obj: Manifest) -> tuple[str, Any, str, str]:
    """API group, kind, namespace and name: what the API server keeps unique."""
    return (str(obj.get("apiVersion", "")).rpartition("/")[0], obj.get("kind"), *_key(obj))


def _duplicates(objects: Sequence[Manifest]) -> Iterator[str]:
    counts = Counter(map(_identity, objects))
    for obj in objects:
        count = counts.pop(_identity(obj), 1)
        if count > 1:
            yield _problem(
                obj,
                "metadata.name",
                f"defined {count} times: expected one object per API group, kind, namespace "
                "and name",
            )


def _names(objects: Sequence[Manifest]) -> Iterator[str]:
    for obj in objects:
        name = _get(obj, "metadata", "name")
        if obj.get("kind") == "Service":
            pattern, limit, expected = grammar.DNS_1035_LABEL, 63, "a DNS-1035 label"
        elif obj.get("kind") == "Namespace":
            pattern, limit, expected = grammar.DNS_LABEL, 63, "a DNS-1123 label"
        else:
            pattern, limit, expected = grammar.DNS_SUBDOMAIN, 253, "a DNS-1123 subdomain"
        if not isinstance(name, str) or len(name) > limit or not re.fullmatch(pattern, name):
            yield _problem(
                obj,
                "metadata.name",
                f"{name!r} is not allowed: expected {expected} of at most {limit} characters",
            )


def _label_maps(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every label map in a manifest: ``metadata.labels`` at any depth and ``matchLabels``."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            child_path = _join(path, str(key))
            if key == "matchLabels" or (key == "labels" and path.endswith("metadata")):
                yield child_path, child
            else:
                yield from _label_maps(child, child_path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _label_maps(item, f"{path}[{index}]")


def _labels(objects: Sequence[Manifest]) -> Iterator[str]:
    for obj in objects:
        maps = list(_label_maps(obj, ""))
        if obj.get("kind") == "Service" and _get(obj, "spec", "selector") is not None:
            maps.append(("spec.selector", _get(obj, "spec", "selector")))
        for path, labels in maps:
            if not isinstance(labels, Mapping):
                yield _problem(obj, path, f"{labels!r} is not allowed: expected a map of labels")
                continue
            for key, value in labels.items():
                yield from (
                    _problem(obj, f"{path}[{key!r}]", m) for m in _label_problems(key, value)
                )


def _label_problems(key: Any, value: Any) -> Iterator[str]:
    if key == PATH_HASH_LABEL:
        yield (
            f"the label {key!r} is not allowed: it holds a hash of the construct path, "
            "which changes when a construct is renamed; use explicit app.kubernetes.io/* labels"
        )
    if (
        not isinstance(key, str)
        or len(key.rpartition("/")[0]) > 253
        or not re.fullmatch(grammar.LABEL_KEY, key)
    ):
        yield (
            f"the label key {key!r} is not allowed: expected an optional DNS subdomain prefix "
            "(at most 253 characters) and '/', then a name of at most 63 characters "
            "(alphanumerics, '-', '_', '.', starting and ending with an alphanumeric)"
        )
    if (
        not isinstance(value, str)
        or len(value) > 63
        or not re.fullmatch(grammar.LABEL_VALUE, value)
    ):
        yield (
            f"the label value {value!r} is not allowed: expected a string of at most 63 "
            "characters (alphanumerics, '-', '_', '.', starting and ending with an alphanumeric)"
        )


def _services(objects: Sequence[Manifest]) -> Iterator[str]:
    workloads = [(obj, template) for obj, _, template in _pod_templates(objects)]
    for service in objects:
        selector = _get(service, "spec", "selector")
        if service.get("kind") != "Service" or not selector or not isinstance(selector, Mapping):
            continue
        matched = [
            (obj, template)
            for obj, template in workloads
            if _key(obj)[0] == _key(service)[0]
            and selects_any({"matchLabels": selector}, pod_labels(obj, template))
        ]
        if len(matched) != 1:
            found = ", ".join(_where(obj) for obj, _ in matched) or "none"
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
        for _, container in _containers(template.get("spec") or {}, ""):
            for port in container.get("ports") or []:
                names.add(port.get("name"))
                numbers.add(port.get("containerPort"))
        for index, port in enumerate(_get(service, "spec", "ports") or []):
            target = port.get("targetPort", port.get("port"))
            if target not in (names if isinstance(target, str) else numbers):
                allowed = sorted(str(p) for p in (names | numbers) - {None})
                yield _problem(
                    service,
                    f"spec.ports[{index}].targetPort",
                    f"{target!r} is not a container port of {_where(workload)}: expected one "
                    f"of {allowed}",
                )


def _ingresses(objects: Sequence[Manifest]) -> Iterator[str]:
    services = _of_kind(objects, "Service")
    for ingress in (o for o in objects if o.get("kind") == "Ingress"):
        backends = []
        if _get(ingress, "spec", "defaultBackend") is not None:
            backends.append(("spec.defaultBackend", _get(ingress, "spec", "defaultBackend")))
        for r, rule in enumerate(_get(ingress, "spec", "rules") or []):
            for p, entry in enumerate(_get(rule, "http", "paths") or []):
                backends.append((f"spec.rules[{r}].http.paths[{p}].backend", entry.get("backend")))
        for path, backend in backends:
            if _get(backend, "resource") is not None:
                continue
            name = _get(backend, "service", "name")
            service = services.get((_key(ingress)[0], name))
            if service is None:
                known = sorted(n for ns, n in services if ns == _key(ingress)[0])
                yield _problem(
                    ingress,
                    f"{path}.service.name",
                    f"{name!r} is not a Service of this synth in namespace "
                    f"{_key(ingress)[0]!r}: expected one of {known}",
                )
                continue
            port = _get(backend, "service", "port") or {}
            ports = _get(service, "spec", "ports") or []
            if not any(
                ("number" in port and port["number"] == p.get("port"))
                or ("name" in port and port["name"] == p.get("name"))
                for p in ports
            ):
                allowed = [p.get("port") for p in ports] + [p["name"] for p in ports if "name" in p]
                yield _problem(
                    ingress,
                    f"{path}.service.port",
                    f"{dict(port)!r} is not a port of {_where(service)}: expected a number or "
                    f"name among {allowed}",
                )


def _http_routes(objects: Sequence[Manifest]) -> Iterator[str]:
    services = _of_kind(objects, "Service")
    for route in (o for o in objects if o.get("kind") == "HTTPRoute"):
        yield from _parent_refs(route)
        namespace = _key(route)[0]
        for r, rule in enumerate(_get(route, "spec", "rules") or []):
            for b, ref in enumerate(rule.get("backendRefs") or []):
                path = f"spec.rules[{r}].backendRefs[{b}]"
                if (ref.get("group") or "", ref.get("kind") or "Service") != ("", "Service"):
                    yield _problem(
                        route,
                        path,
                        f"group {ref.get('group')!r} kind {ref.get('kind')!r} is not allowed: "
                        "expected a Service (group '', kind Service)",
                    )
                    continue
                target_namespace = ref.get("namespace") or namespace
                service = services.get((target_namespace, ref.get("name")))
                if service is None:
                    known = sorted(n for ns, n in services if ns == target_namespace)
                    yield _problem(
                        route,
                        f"{path}.name",
                        f"{ref.get('name')!r} is not a Service of this synth in namespace "
                        f"{target_namespace!r}: expected one of {known}",
                    )
                    continue
                ports = [p.get("port") for p in _get(service, "spec", "ports") or []]
                if ref.get("port") not in ports:
                    yield _problem(
                        route,
                        f"{path}.port",
                        f"{ref.get('port')!r} is not a port of {_where(service)}: expected one "
                        f"of {ports}",
                    )
                if target_namespace != namespace and not _granted(objects, route, service):
                    yield _problem(
                        route,
                        f"{path}.namespace",
                        f"{target_namespace!r} is another namespace and no ReferenceGrant there "
                        f"lets HTTPRoutes of {namespace!r} reach {_where(service)}: expected one",
                    )


def _parent_refs(route: Manifest) -> Iterator[str]:
    """Each parentRef names a Gateway by group, kind, name and namespace, and only once."""
    refs = _get(route, "spec", "parentRefs") or []
    if not refs:
        yield _problem(route, "spec.parentRefs", "missing: expected at least one Gateway")
    seen: set[tuple[Any, ...]] = set()
    for index, ref in enumerate(refs):
        path = f"spec.parentRefs[{index}]"
        group, kind = ref.get("group", "gateway.networking.k8s.io"), ref.get("kind", "Gateway")
        if (group, kind) != ("gateway.networking.k8s.io", "Gateway"):
            yield _problem(
                route,
                path,
                f"group {group!r} kind {kind!r} is not allowed: expected a Gateway "
                "(group gateway.networking.k8s.io)",
            )
        for name_field in ("name", "namespace", "sectionName"):
            value = ref.get(name_field)
            pattern = grammar.DNS_LABEL if name_field == "namespace" else grammar.DNS_SUBDOMAIN
            if (value is not None or name_field != "sectionName") and (
                not isinstance(value, str) or len(value) > 253 or not re.fullmatch(pattern, value)
            ):
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


def _granted(objects: Sequence[Manifest], route: Manifest, service: Manifest) -> bool:
    """Whether a ReferenceGrant in the Service's namespace lets the route reach it."""
    for grant in (o for o in objects if o.get("kind") == "ReferenceGrant"):
        if _key(grant)[0] != _key(service)[0]:
            continue
        sources = _get(grant, "spec", "from") or []
        targets = _get(grant, "spec", "to") or []
        if any(
            s.get("group") == "gateway.networking.k8s.io"
            and s.get("kind") == "HTTPRoute"
            and s.get("namespace") == _key(route)[0]
            for s in sources
        ) and any(
            t.get("group") == ""
            and t.get("kind") == "Service"
            and t.get("name") in (None, _key(service)[1])
            for t in targets
        ):
            return True
    return False


def _stateful_sets(objects: Sequence[Manifest]) -> Iterator[str]:
    services = _of_kind(objects, "Service")
    for stateful_set in (o for o in objects if o.get("kind") == "StatefulSet"):
        name = _get(stateful_set, "spec", "serviceName")
        service = services.get((_key(stateful_set)[0], name))
        if service is None or _get(service, "spec", "clusterIP") != "None":
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
    for obj, path, template in _pod_templates(objects):
        namespace = _key(obj)[0]
        for field, kind, name, keys in _config_references(template.get("spec") or {}, path):
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
                            f"{key!r} is not a key of {_where(config_map)}: expected one of "
                            f"{sorted(present)}",
                        )


def _unknown(name: Any, kind: str, known: Collection[str]) -> str:
    return (
        f"{name!r} is not a {kind} of this synth or a declared external Secret: expected one "
        f"of {sorted(known)}"
    )


def _config_references(
    spec: Mapping[str, Any], path: str
) -> Iterator[tuple[str, str, Any, list[tuple[str, Any]]]]:
    """Each ConfigMap or Secret a pod uses: name field, kind, name and the keys it reads."""
    spec_path = _join(path, "spec")
    for v, volume in enumerate(spec.get("volumes") or []):
        where = f"{spec_path}.volumes[{v}]"
        if "configMap" in volume:
            yield (
                f"{where}.configMap.name",
                "ConfigMap",
                _get(volume, "configMap", "name"),
                _item_keys(_get(volume, "configMap", "items"), f"{where}.configMap"),
            )
        if "secret" in volume:
            yield f"{where}.secret.secretName", "Secret", _get(volume, "secret", "secretName"), []
        for s, source in enumerate(_get(volume, "projected", "sources") or []):
            source_path = f"{where}.projected.sources[{s}]"
            if "configMap" in source:
                yield (
                    f"{source_path}.configMap.name",
                    "ConfigMap",
                    _get(source, "configMap", "name"),
                    _item_keys(_get(source, "configMap", "items"), f"{source_path}.configMap"),
                )
            if "secret" in source:
                yield f"{source_path}.secret.name", "Secret", _get(source, "secret", "name"), []
    for container_path, container in _containers(spec, spec_path):
        for e, variable in enumerate(container.get("env") or []):
            ref_path = f"{container_path}.env[{e}].valueFrom"
            if (ref := _get(variable, "valueFrom", "configMapKeyRef")) is not None:
                name_path = f"{ref_path}.configMapKeyRef"
                keys = [(f"{name_path}.key", ref.get("key"))]
                yield f"{name_path}.name", "ConfigMap", ref.get("name"), keys
            if (ref := _get(variable, "valueFrom", "secretKeyRef")) is not None:
                yield f"{ref_path}.secretKeyRef.name", "Secret", ref.get("name"), []
        for e, source in enumerate(container.get("envFrom") or []):
            source_path = f"{container_path}.envFrom[{e}]"
            if "configMapRef" in source:
                name = _get(source, "configMapRef", "name")
                yield f"{source_path}.configMapRef.name", "ConfigMap", name, []
            if "secretRef" in source:
                yield (
                    f"{source_path}.secretRef.name",
                    "Secret",
                    _get(source, "secretRef", "name"),
                    [],
                )


def _item_keys(items: Any, path: str) -> list[tuple[str, Any]]:
    return [(f"{path}.items[{i}].key", item.get("key")) for i, item in enumerate(items or [])]


def _pod_security(objects: Sequence[Manifest]) -> Iterator[str]:
    for obj, path, template in _pod_templates(objects):
        spec = template.get("spec") or {}
        spec_path = _join(path, "spec")
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                yield _problem(
                    obj, f"{spec_path}.{field}", f"{spec[field]!r} is not allowed ({RESTRICTED})"
                )
        for v, volume in enumerate(spec.get("volumes") or []):
            for kind in sorted(set(volume) - {"name"} - _ALLOWED_VOLUMES):
                yield _problem(
                    obj,
                    f"{spec_path}.volumes[{v}].{kind}",
                    f"a {kind} volume is not allowed ({RESTRICTED}): expected one of "
                    f"{sorted(_ALLOWED_VOLUMES)}",
                )
        pod_context = spec.get("securityContext") or {}
        for container_path, container in _containers(spec, spec_path):
            for message in _container_problems(pod_context, container, container_path, spec_path):
                yield _problem(obj, *message)


def _container_problems(
    pod: Mapping[str, Any], container: Mapping[str, Any], path: str, spec_path: str
) -> Iterator[tuple[str, str]]:
    """(field path, message) for each way a container breaks ``restricted``."""
    context = container.get("securityContext") or {}
    here = f"{path}.securityContext"
    run_as_non_root = context.get("runAsNonRoot", pod.get("runAsNonRoot"))
    if run_as_non_root is not True:
        yield (
            f"{here}.runAsNonRoot",
            f"{run_as_non_root!r} is not allowed ({RESTRICTED}): expected true here or in "
            f"{spec_path}.securityContext",
        )
    if context.get("runAsUser", pod.get("runAsUser")) == 0:
        yield f"{here}.runAsUser", f"0 is not allowed ({RESTRICTED}): expected a non-root uid"
    seccomp = _get(context, "seccompProfile", "type") or _get(pod, "seccompProfile", "type")
    if seccomp not in _ALLOWED_SECCOMP:
        yield (
            f"{here}.seccompProfile.type",
            f"{seccomp!r} is not allowed ({RESTRICTED}): expected one of {list(_ALLOWED_SECCOMP)} "
            f"here or in {spec_path}.securityContext",
        )
    if context.get("allowPrivilegeEscalation") is not False:
        yield (
            f"{here}.allowPrivilegeEscalation",
            f"{context.get('allowPrivilegeEscalation')!r} is not allowed ({RESTRICTED}): "
            "expected false",
        )
    if context.get("privileged"):
        yield f"{here}.privileged", f"{context['privileged']!r} is not allowed ({RESTRICTED})"
    drop = _get(context, "capabilities", "drop") or []
    if "ALL" not in drop:
        yield (
            f"{here}.capabilities.drop",
            f"{drop!r} is not allowed ({RESTRICTED}): expected a list containing 'ALL'",
        )
    added = set(_get(context, "capabilities", "add") or []) - _ALLOWED_CAPABILITIES
    if added:
        yield (
            f"{here}.capabilities.add",
            f"{sorted(added)!r} is not allowed ({RESTRICTED}): expected only "
            f"{sorted(_ALLOWED_CAPABILITIES)}",
        )
    for p, port in enumerate(container.get("ports") or []):
        if port.get("hostPort"):
            yield (
                f"{path}.ports[{p}].hostPort",
                f"{port['hostPort']!r} is not allowed ({RESTRICTED}): expected no hostPort",
            )


def _namespaces(objects: Sequence[Manifest]) -> Iterator[str]:
    namespaces = {name: obj for (_, name), obj in _of_kind(objects, "Namespace").items()}
    for namespace in namespaces.values():
        level = _get(namespace, "metadata", "labels", POD_SECURITY_LABEL)
        if level != "restricted":
            yield _problem(
                namespace,
                f"metadata.labels[{POD_SECURITY_LABEL!r}]",
                f"{level!r} is not allowed: expected 'restricted', so the API server rejects "
                "pods that break the Pod Security Standard",
            )
    for obj, _, _ in _pod_templates(objects):
        if _key(obj)[0] not in namespaces:
            yield _problem(
                obj,
                "metadata.namespace",
                f"{_key(obj)[0]!r} is not a Namespace of this synth: expected the synth to "
                f"create its namespace with {POD_SECURITY_LABEL}: restricted",
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
