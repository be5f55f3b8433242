"""Rules over the final manifests: each one, once, for the synth and for the project's checks.

Each rule takes every manifest of an app (plain JSON, after every JSON patch) and yields a
``Problem`` per violation: the object, the field and what is wrong with what is allowed. The
library runs ``LIBRARY_RULES`` as a validation of every app that holds a journal construct
(``app.synth()``, ``cdk8s synth`` and ``Testing.synth`` alike); ``journal_tools.checks`` runs
them too, beside the project's own stricter checks. A new rule is a function here, listed in
``LIBRARY_RULES``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from . import grammar

SHOWN_CHARS = 60
"""The longest text a message quotes; longer ones are cut, ending in an ellipsis."""


def cut(text: str) -> str:
    """``text``, cut to ``SHOWN_CHARS`` characters ending in an ellipsis."""
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def shown(value: object) -> str:
    """``value`` as a message quotes it: its ``repr``, ``cut``."""
    return cut(repr(value))


def refused(argument: str, value: object, expected: str) -> ValueError:
    """The error for an argument: ``<argument>=<value> is not allowed: expected <expected>``."""
    return ValueError(f"{argument}={shown(value)} is not allowed: expected {expected}")


def argument_of(message: str) -> str | None:
    """The argument a construct's error names first, as ``refused`` and the constructs write
    it: ``replicas`` in ``replicas=0 is not allowed: …``, ``tls`` in ``tls is not allowed …``,
    ``pod env`` in ``pod env: …``, ``failover quorum`` in ``failover quorum=0 …``."""
    match = _ARGUMENT_FIRST.match(message)
    return match[1] if match else None


_ARGUMENT_FIRST = re.compile(r"([a-z_]+(?: [a-z_]+)*?)(?=[=:]| is not allowed)")


Manifest = Mapping[str, Any]
"""A Kubernetes object as plain JSON data."""

POD_SECURITY_PREFIX = "pod-security.kubernetes.io/"
"""The prefix of a Namespace's Pod Security labels (``enforce``, ``audit``, ``warn``)."""
POD_SECURITY_LABEL = f"{POD_SECURITY_PREFIX}enforce"
GATEWAY_GROUP = "gateway.networking.k8s.io"
"""The API group of the Gateway API (Gateway, HTTPRoute, ReferenceGrant)."""
RESTRICTED = "Pod Security Standard 'restricted'"

TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
"""Where each workload kind holds its pod template (a Pod is its own)."""

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


class Problem(NamedTuple):
    """One violation: the object, the field path inside it, and the message."""

    obj: Manifest
    field: str
    message: str
    other: Manifest | None = None
    """The other object of a conflict (the first of two with one name)."""


Rule = Callable[[Sequence[Manifest]], Iterator[Problem]]


def get(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or ``None`` where a level is missing."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def key(obj: Manifest) -> tuple[str, str]:
    """The namespace (``""`` for none) and name of an object."""
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace") or "", metadata.get("name") or ""


def where(obj: Manifest) -> str:
    """``Kind namespace/name``, or ``Kind name`` for an object without a namespace."""
    namespace, name = key(obj)
    return f"{obj.get('kind')} {namespace}/{name}" if namespace else f"{obj.get('kind')} {name}"


def pod_templates(objects: Sequence[Manifest]) -> Iterator[tuple[Manifest, str, Manifest]]:
    """Each workload's pod template with its field path (a Pod is its own template)."""
    for obj in objects:
        kind = obj.get("kind", "")
        if kind == "Pod":
            yield obj, "", obj
        elif kind in TEMPLATE_PATHS and isinstance(get(obj, *TEMPLATE_PATHS[kind]), Mapping):
            yield obj, ".".join(TEMPLATE_PATHS[kind]), get(obj, *TEMPLATE_PATHS[kind])


def join(path: str, field: str) -> str:
    """``path.field``, or ``field`` at the top."""
    return f"{path}.{field}" if path else field


def containers(spec: Manifest, path: str) -> Iterator[tuple[str, Manifest]]:
    """Every container of a pod spec (init and ephemeral too), with its field path."""
    for field in ("initContainers", "containers", "ephemeralContainers"):
        found = spec.get(field)
        for index, container in enumerate(found if isinstance(found, list) else []):
            if isinstance(container, Mapping):  # else the capacity rules report it
                yield f"{path}.{field}[{index}]", container


def duplicates(objects: Sequence[Manifest]) -> Iterator[Problem]:
    """No two objects share API group, kind, namespace and name (``kubectl apply`` would merge
    them into one)."""
    first: dict[tuple[Any, ...], Manifest] = {}
    for obj in objects:
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        identity = (group, obj.get("kind"), *key(obj))
        if identity in first:
            yield Problem(
                obj,
                "metadata.name",
                f"{key(obj)[1]!r} is defined twice: expected one object per API group, kind, "
                "namespace and name; give one of them another name",
                first[identity],
            )
        else:
            first[identity] = obj


def label_maps(obj: Manifest) -> Iterator[tuple[str, Any]]:
    """Every label map of an object: ``metadata.labels`` at any depth, ``matchLabels``, and a
    Service's selector, each with its field path."""
    found: list[tuple[str, Any]] = []
    _label_maps(obj, "", found)
    if obj.get("kind") == "Service" and get(obj, "spec", "selector") is not None:
        found.append(("spec.selector", get(obj, "spec", "selector")))
    return iter(found)


def labels(objects: Sequence[Manifest]) -> Iterator[Problem]:
    """Every label map maps label keys to label values, strings all (the API server refuses
    a number or a boolean)."""
    for obj in objects:
        for path, found in label_maps(obj):
            if not isinstance(found, Mapping):
                yield Problem(obj, path, f"{found!r} is not allowed: expected a map of labels")
                continue
            for label, value in found.items():
                messages = (
                    _label_messages(label, value)
                    if isinstance(label, str) and isinstance(value, str)
                    else _label_problems(label, value)
                )
                for message in messages:
                    yield Problem(obj, f"{path}[{label!r}]", message)


def _label_maps(value: Any, path: str, found: list[tuple[str, Any]]) -> None:
    # Walks into maps and lists only (a manifest is mostly strings and numbers), appending to
    # one list rather than yielding through every level: the rules run at every synth.
    if type(value) is dict or isinstance(value, Mapping):
        for name, child in value.items():
            if name == "matchLabels" or (name == "labels" and path.endswith("metadata")):
                found.append((join(path, str(name)), child))
            elif _nested(child):
                _label_maps(child, join(path, str(name)), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if _nested(item):
                _label_maps(item, f"{path}[{index}]", found)


def _nested(value: Any) -> bool:
    """Whether a value is a map or a list; a JSON value is told without an ABC look-up."""
    kind = type(value)
    if kind is dict or kind is list:
        return True
    return kind not in _SCALARS and isinstance(value, dict | list | Mapping)


_SCALARS = frozenset({str, int, float, bool, type(None)})


@functools.lru_cache(maxsize=4096)
def _label_messages(label: str, value: str) -> tuple[str, ...]:
    """``_label_problems`` of a label, once per label: an app repeats its labels a lot."""
    return tuple(_label_problems(label, value))


def _label_problems(label: Any, value: Any) -> Iterator[str]:
    if not grammar.is_label_key(label):
        yield f"the label key {label!r} is not allowed: expected {grammar.LABEL_KEY_EXPECTED}"
    if not isinstance(value, str) or not re.fullmatch(grammar.LABEL_VALUE, value):
        yield f"the label value {value!r} is not allowed: expected {grammar.LABEL_VALUE_EXPECTED}"


def restricted(objects: Sequence[Manifest]) -> Iterator[Problem]:
    """Every pod template in a namespace whose Namespace (among ``objects``) enforces Pod
    Security ``restricted`` meets it (see ``pod_security``)."""
    enforced = {
        key(o)[1]
        for o in objects
        if o.get("kind") == "Namespace"
        and get(o, "metadata", "labels", POD_SECURITY_LABEL) == "restricted"
    }
    every = [o for o in objects if key(o)[0] in enforced]
    for problem in pod_security(every):
        yield problem._replace(
            message=f"{problem.message} in namespace {key(problem.obj)[0]!r} "
            "(security_context=restricted_container_security() gives a sidecar or init "
            "container the restricted settings, adopt_restricted a cdk8s-plus workload)"
        )


def pod_security(objects: Sequence[Manifest]) -> Iterator[Problem]:
    """Every pod template of ``objects`` meets the Pod Security Standard ``restricted``."""
    for obj, path, template in pod_templates(objects):
        spec = template.get("spec") or {}
        if not isinstance(spec, Mapping):  # the capacity rules report it
            continue
        spec_path = join(path, "spec")
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                yield Problem(
                    obj, f"{spec_path}.{field}", f"{spec[field]!r} is not allowed ({RESTRICTED})"
                )
        for v, volume in enumerate(spec.get("volumes") or []):
            for kind in sorted(set(volume) - {"name"} - _ALLOWED_VOLUMES):
                yield Problem(
                    obj,
                    f"{spec_path}.volumes[{v}].{kind}",
                    f"a {kind} volume is not allowed ({RESTRICTED}): expected one of "
                    f"{sorted(_ALLOWED_VOLUMES)}",
                )
        pod = spec.get("securityContext") or {}
        for container_path, container in containers(spec, spec_path):
            for field, message in _container_problems(pod, container, container_path, spec_path):
                yield Problem(obj, field, message)


def _refused(value: Any) -> str:
    """``'x' is not allowed``, or ``not set`` for a field the manifest leaves out."""
    return "not set" if value is None else f"{value!r} is not allowed"


def _container_problems(
    pod: Manifest, container: Manifest, path: str, spec_path: str
) -> Iterator[tuple[str, str]]:
    context = container.get("securityContext") or {}
    here = f"{path}.securityContext"
    run_as_non_root = context.get("runAsNonRoot", pod.get("runAsNonRoot"))
    if run_as_non_root is not True:
        yield (
            f"{here}.runAsNonRoot",
            f"{_refused(run_as_non_root)} ({RESTRICTED}): expected true here or in "
            f"{spec_path}.securityContext",
        )
    if context.get("runAsUser", pod.get("runAsUser")) == 0:
        yield f"{here}.runAsUser", f"0 is not allowed ({RESTRICTED}): expected a non-root uid"
    seccomp = get(context, "seccompProfile", "type") or get(pod, "seccompProfile", "type")
    if seccomp not in _ALLOWED_SECCOMP:
        yield (
            f"{here}.seccompProfile.type",
            f"{_refused(seccomp)} ({RESTRICTED}): expected one of {list(_ALLOWED_SECCOMP)} "
            f"here or in {spec_path}.securityContext",
        )
    if context.get("allowPrivilegeEscalation") is not False:
        yield (
            f"{here}.allowPrivilegeEscalation",
            f"{_refused(context.get('allowPrivilegeEscalation'))} ({RESTRICTED}): expected false",
        )
    if context.get("privileged"):
        yield f"{here}.privileged", f"{context['privileged']!r} is not allowed ({RESTRICTED})"
    drop = get(context, "capabilities", "drop") or []
    if "ALL" not in drop:
        yield (
            f"{here}.capabilities.drop",
            f"{drop!r} is not allowed ({RESTRICTED}): expected a list containing 'ALL'",
        )
    added = set(get(context, "capabilities", "add") or []) - _ALLOWED_CAPABILITIES
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


def routes(objects: Sequence[Manifest]) -> Iterator[Problem]:
    """Every Ingress and HTTPRoute backend is a Service among ``objects``, on one of its ports
    (in another namespace only where a ReferenceGrant there allows it)."""
    services = {key(o): o for o in objects if o.get("kind") == "Service"}
    for obj in objects:
        if obj.get("kind") == "Ingress":
            yield from _ingress_backends(obj, services)
        elif obj.get("kind") == "HTTPRoute":
            yield from _route_backends(obj, services, objects)


def _ingress_backends(
    ingress: Manifest, services: Mapping[tuple[str, str], Manifest]
) -> Iterator[Problem]:
    namespace = key(ingress)[0]
    backends = []
    if get(ingress, "spec", "defaultBackend") is not None:
        backends.append(("spec.defaultBackend", get(ingress, "spec", "defaultBackend")))
    for r, rule in enumerate(get(ingress, "spec", "rules") or []):
        for p, entry in enumerate(get(rule, "http", "paths") or []):
            backends.append((f"spec.rules[{r}].http.paths[{p}].backend", entry.get("backend")))
    for path, backend in backends:
        if get(backend, "resource") is not None:
            continue
        name = get(backend, "service", "name")
        service = services.get((namespace, name))
        if service is None:
            yield Problem(ingress, f"{path}.service.name", _no_service(name, namespace, services))
            continue
        port = get(backend, "service", "port") or {}
        ports = get(service, "spec", "ports") or []
        if not any(
            ("number" in port and port["number"] == p.get("port"))
            or ("name" in port and port["name"] == p.get("name"))
            for p in ports
        ):
            allowed = [p.get("port") for p in ports] + [p["name"] for p in ports if "name" in p]
            yield Problem(
                ingress,
                f"{path}.service.port",
                f"{dict(port)!r} is not a port of {where(service)}: expected a number or name "
                f"among {allowed}",
            )


def _route_backends(
    route: Manifest, services: Mapping[tuple[str, str], Manifest], objects: Sequence[Manifest]
) -> Iterator[Problem]:
    namespace = key(route)[0]
    for r, rule in enumerate(get(route, "spec", "rules") or []):
        for b, ref in enumerate(rule.get("backendRefs") or []):
            path = f"spec.rules[{r}].backendRefs[{b}]"
            if (ref.get("group") or "", ref.get("kind") or "Service") != ("", "Service"):
                yield Problem(
                    route,
                    path,
                    f"group {ref.get('group')!r} kind {ref.get('kind')!r} is not allowed: "
                    "expected a Service (group '', kind Service)",
                )
                continue
            target = ref.get("namespace") or namespace
            service = services.get((target, ref.get("name")))
            if service is None:
                yield Problem(route, f"{path}.name", _no_service(ref.get("name"), target, services))
                continue
            ports = [p.get("port") for p in get(service, "spec", "ports") or []]
            if ref.get("port") not in ports:
                yield Problem(
                    route,
                    f"{path}.port",
                    f"{ref.get('port')!r} is not a port of {where(service)}: expected one of "
                    f"{ports}",
                )
            if target != namespace and not _granted(objects, route, service):
                yield Problem(
                    route,
                    f"{path}.namespace",
                    f"{target!r} is another namespace and no ReferenceGrant there lets "
                    f"HTTPRoutes of {namespace!r} reach {where(service)}: expected one",
                )


def routed(objects: Sequence[Manifest]) -> Iterator[Problem]:
    """Every Ingress rule has paths (the API server refuses none) and every HTTPRoute rules."""
    for obj in objects:
        if obj.get("kind") == "Ingress":
            for r, rule in enumerate(get(obj, "spec", "rules") or []):
                if "http" in rule and not get(rule, "http", "paths"):
                    yield Problem(
                        obj,
                        f"spec.rules[{r}].http.paths",
                        "[] is not allowed: expected at least one path (call route(path, backend))",
                    )
        elif obj.get("kind") == "HTTPRoute" and not get(obj, "spec", "rules"):
            yield Problem(
                obj,
                "spec.rules",
                "[] is not allowed: expected at least one rule (call route(path, backend))",
            )


def claims(objects: Sequence[Manifest]) -> Iterator[Problem]:
    """No two Ingresses of one class, nor two HTTPRoutes of one Gateway listener, claim the same
    host and path: the controller would send those requests to one of them only."""
    first: dict[tuple[Any, ...], Manifest] = {}
    for obj in objects:
        for identity, field in _claims(obj):
            other = first.setdefault(identity, obj)
            if other is not obj:
                host, path = identity[-2], identity[-1][1]
                yield Problem(
                    obj,
                    field,
                    f"host {host!r} path {path!r} is also routed by {where(other)}: expected "
                    "each host and path routed once per ingress class or Gateway listener",
                    other,
                )


def _claims(obj: Manifest) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Each (ingress class or Gateway listener, host, (path type, path)) that ``obj`` routes,
    with the field that routes it; ``*`` for any host. An HTTPRoute match on more than its
    path (a header, a method) claims nothing here."""
    if obj.get("kind") == "Ingress":
        kind = ("Ingress", get(obj, "spec", "ingressClassName"))
        for r, rule in enumerate(get(obj, "spec", "rules") or []):
            for p, entry in enumerate(get(rule, "http", "paths") or []):
                path = (entry.get("pathType"), entry.get("path") or "/")
                field = f"spec.rules[{r}].http.paths[{p}]"
                yield (*kind, rule.get("host") or "*", path), field
    elif obj.get("kind") == "HTTPRoute":
        namespace = key(obj)[0]
        hosts = get(obj, "spec", "hostnames") or ["*"]
        for parent in get(obj, "spec", "parentRefs") or []:
            name, section = parent.get("name"), parent.get("sectionName")
            listener = (parent.get("namespace") or namespace, name, section)
            for r, rule in enumerate(get(obj, "spec", "rules") or []):
                for m, match in enumerate(rule.get("matches") or [{}]):
                    if set(match) - {"path"}:
                        continue
                    found = match.get("path") or {}
                    path = (found.get("type", "PathPrefix"), found.get("value", "/"))
                    field = f"spec.rules[{r}].matches[{m}]"
                    for host in hosts:
                        yield ("HTTPRoute", *listener, host, path), field


def _no_service(name: Any, namespace: str, services: Mapping[tuple[str, str], Manifest]) -> str:
    known = sorted(n for ns, n in services if ns == namespace)
    return (
        f"{name!r} is not a Service of this synth in namespace {namespace!r}: expected one "
        f"of {known}"
    )


def _granted(objects: Sequence[Manifest], route: Manifest, service: Manifest) -> bool:
    """Whether a ReferenceGrant in the Service's namespace lets the route reach it."""
    for grant in (o for o in objects if o.get("kind") == "ReferenceGrant"):
        if key(grant)[0] != key(service)[0]:
            continue
        if any(
            s.get("group") == GATEWAY_GROUP
            and s.get("kind") == "HTTPRoute"
            and s.get("namespace") == key(route)[0]
            for s in get(grant, "spec", "from") or []
        ) and any(
            t.get("group") == ""
            and t.get("kind") == "Service"
            and t.get("name") in (None, key(service)[1])
            for t in get(grant, "spec", "to") or []
        ):
            return True
    return False


LIBRARY_RULES: tuple[Rule, ...] = (duplicates, labels, restricted, routes, routed, claims)
"""What every synth of an app with a journal construct enforces over its final manifests."""
_OWN_ONLY: tuple[Rule, ...] = (routes, routed)
"""Rules about the objects the journal constructs made only (a team's own Ingress may route
to a Service from outside the synth, and its HTTPRoute may send every request elsewhere)."""


def library_problems(found: Sequence[tuple[str, Manifest, bool]]) -> list[tuple[str, str]]:
    """``LIBRARY_RULES`` over an app's objects, each ``(construct path, manifest, made by a
    journal construct)``: a ``(construct path, message)`` per problem."""
    paths = {id(manifest): path for path, manifest, _ in found}
    own = {id(manifest) for _, manifest, made in found if made}
    objects = [manifest for _, manifest, _ in found]
    reports = []
    for rule in LIBRARY_RULES:
        for problem in rule(objects):
            if rule in _OWN_ONLY and id(problem.obj) not in own:
                continue
            message = f"{where(problem.obj)}: {problem.field}: {problem.message}"
            if problem.other is not None:
                message += f" (the other: {paths[id(problem.other)]})"
            reports.append((paths[id(problem.obj)], message))
    return reports
