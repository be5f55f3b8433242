"""``make diagram``: one architecture picture per environment, drawn from its manifests.

Columns, left to right: the edge (Ingresses with their TLS Secrets, Gateway API HTTPRoutes
with the Gateway they attach to; and the ServiceMonitors, the scrape path of Prometheus),
Services, workloads (their exporter sidecars among the containers), then the ConfigMaps,
Secrets and volume claims the pods use; each PrometheusRule is a footnote naming its alerts.
Grey arrows are routes and references; green dashed arrows are what the NetworkPolicies
allow, labelled with the ports. Peers outside the namespace are written above the workload
they may reach. Output goes to ``dist/diagrams/<env>.svg`` and ``.png``, outside
``dist/<env>/``, which stays appliable.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .env_diff import Manifest, ManifestsError, read_manifests
from .selectors import POD_NAME_LABEL, pod_labels, selects_any

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
DRAWN_KINDS = {
    *WORKLOAD_KINDS,
    *("Ingress", "HTTPRoute", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim"),
    "ServiceMonitor",
}
SUMMARISED_KINDS = {
    *("Namespace", "NetworkPolicy", "PodDisruptionBudget", "ResourceQuota"),
    *("PrometheusRule", "HorizontalPodAutoscaler"),
}

# Sizes in inches (one data unit is one inch), font sizes in points.
BOX_WIDTH = 2.6
COLUMN_GAP = 1.6
MARGIN = 0.4
HEADER = 1.0
LINE = 0.17
PAD = 0.14
GAP = 0.25
BAND_GAP = 0.45
STUB_LINE = 0.16
MAX_CHARS = 44
MAX_TITLE_CHARS = 36
TITLE_SIZE = 8.5
TEXT_SIZE = 7.5
LABEL_SIZE = 7.0

GREY = "#5f6368"
POLICY = "#188038"
PALETTE = {  # kind: (fill, border)
    "Ingress": ("#e8f0fe", "#1a73e8"),
    "HTTPRoute": ("#e6f4ea", "#1e8e3e"),
    "Service": ("#e8eaf6", "#3f51b5"),
    "Workload": ("#fef3e2", "#e8710a"),
    "ConfigMap": ("#f3e8fd", "#9334e6"),
    "Secret": ("#fce8e6", "#c5221f"),
    "PersistentVolumeClaim": ("#eceff1", "#546e7a"),
    "ServiceMonitor": ("#fff8e1", "#f9a825"),
}


@dataclass
class Box:
    """One node of the picture: a titled box with detail lines."""

    key: str
    column: int
    title: str
    lines: list[str]
    palette: str
    external: bool = False
    stubs: list[str] = field(default_factory=list)
    """Policy peers outside the namespace, written above the box."""


@dataclass(frozen=True)
class Arrow:
    """A route or reference (grey), or a NetworkPolicy allow edge (green, dashed)."""

    source: str
    target: str
    label: str
    policy: bool = False


@dataclass
class Architecture:
    """What one environment's manifests describe, ready to lay out."""

    namespace: str
    boxes: dict[str, Box]
    arrows: list[Arrow]
    notes: list[str]


def architecture(objects: Sequence[Manifest]) -> Architecture:
    """Boxes, arrows and footnotes for one environment's objects."""
    by_key = {_key(o): o for o in objects}
    namespace = next(
        (o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"),
        next((o["metadata"].get("namespace", "") for o in objects), ""),
    )
    arch = Architecture(namespace=namespace, boxes={}, arrows=[], notes=[])
    workloads = [o for o in objects if o["kind"] in WORKLOAD_KINDS]
    pods = {_key(w): pod_labels(w, w["spec"]["template"]) for w in workloads}
    for workload in workloads:
        arch.boxes[_key(workload)] = _workload_box(workload, objects, pods[_key(workload)])
    for service in (o for o in objects if o["kind"] == "Service"):
        _add_service(arch, service, pods)
    for ingress in (o for o in objects if o["kind"] == "Ingress"):
        _add_ingress(arch, ingress, by_key)
    for route in (o for o in objects if o["kind"] == "HTTPRoute"):
        _add_http_route(arch, route)
    for monitor in (o for o in objects if o["kind"] == "ServiceMonitor"):
        _add_service_monitor(arch, monitor, objects)
    for workload in workloads:
        _add_pod_references(arch, workload, by_key)
    for kind in ("ConfigMap", "Secret", "PersistentVolumeClaim"):
        for unused in (o for o in objects if o["kind"] == kind and _key(o) not in arch.boxes):
            arch.boxes[_key(unused)] = _config_box(kind, _name(unused), unused)
    for policy in (o for o in objects if o["kind"] == "NetworkPolicy"):
        _add_policy(arch, policy, pods)
    for rule in (o for o in objects if o["kind"] == "PrometheusRule"):
        alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
        arch.notes.append(f"PrometheusRule {_name(rule)}: {', '.join(alerts)}")
    for quota in (o for o in objects if o["kind"] == "ResourceQuota"):
        hard = ", ".join(f"{k} {v}" for k, v in quota["spec"].get("hard", {}).items())
        arch.notes.append(f"ResourceQuota {_name(quota)}: {hard}")
    others = [_key(o) for o in objects if o["kind"] not in DRAWN_KINDS | SUMMARISED_KINDS]
    if others:
        arch.notes.append("also: " + ", ".join(k.replace("/", " ") for k in others))
    return arch


def _key(manifest: Manifest) -> str:
    return f"{manifest['kind']}/{_name(manifest)}"


def _name(manifest: Manifest) -> str:
    return str(manifest["metadata"]["name"])


def _workload_box(
    workload: Manifest, objects: Sequence[Manifest], labels: list[dict[str, str]]
) -> Box:
    """A workload: replicas (or its autoscaler's range), images, scratch volumes, budget."""
    spec = workload["spec"]
    pod = spec["template"]["spec"]
    count = "one pod per node" if workload["kind"] == "DaemonSet" else f"{spec.get('replicas', 1)}"
    for scaler in (o for o in objects if o["kind"] == "HorizontalPodAutoscaler"):
        ref = scaler["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"]) == (workload["kind"], _name(workload)):
            targets = [
                f"{m['resource']['name']} {m['resource']['target']['averageUtilization']}%"
                for m in scaler["spec"].get("metrics", [])
                if m.get("type") == "Resource" and "averageUtilization" in m["resource"]["target"]
            ]
            low, high = scaler["spec"].get("minReplicas", 1), scaler["spec"]["maxReplicas"]
            count = f"{low} to {high}, autoscaled" + (f" ({', '.join(targets)})" if targets else "")
    lines = [f"replicas: {count}"]
    lines += [f"{c['name']}: {c['image']}" for c in pod.get("containers", [])]
    scratch = [
        v["name"] + (" (memory)" if v["emptyDir"].get("medium") == "Memory" else "")
        for v in pod.get("volumes", [])
        if "emptyDir" in v
    ]
    if scratch:
        lines.append("emptyDir: " + ", ".join(scratch))
    for budget in (o for o in objects if o["kind"] == "PodDisruptionBudget"):
        selector = budget["spec"].get("selector")  # a budget without one selects no pod
        if selector is not None and selects_any(selector, labels):
            limits = {k: v for k, v in budget["spec"].items() if k != "selector"}
            lines.append("disruption budget: " + ", ".join(f"{k} {v}" for k, v in limits.items()))
    return Box(_key(workload), 2, f"{workload['kind']} {_name(workload)}", lines, "Workload")


def _add_service(
    arch: Architecture, service: Manifest, pods: Mapping[str, list[dict[str, str]]]
) -> None:
    """A Service, with arrows to the workloads whose pods it selects."""
    spec = service["spec"]
    ports = ", ".join(f":{p['port']} → {p.get('targetPort', p['port'])}" for p in spec["ports"])
    lines = [ports]
    if spec.get("clusterIP") == "None":
        lines.append("headless (one DNS name per pod)")
    elif spec.get("type", "ClusterIP") != "ClusterIP":
        lines.append(spec["type"])
    selector = spec.get("selector", {})
    if POD_NAME_LABEL in selector:
        lines.append(f"only pod {selector[POD_NAME_LABEL]}")
    arch.arrows += [
        Arrow(_key(service), workload, "")
        for workload, labels in pods.items()
        if selector and selects_any({"matchLabels": selector}, labels)
    ]
    arch.boxes[_key(service)] = Box(_key(service), 1, f"Service {_name(service)}", lines, "Service")


def _add_ingress(arch: Architecture, ingress: Manifest, by_key: Mapping[str, Manifest]) -> None:
    """An Ingress, its path routes to Services, and its TLS Secrets."""
    spec = ingress["spec"]
    key = _key(ingress)
    hosts = [r["host"] for r in spec.get("rules", []) if "host" in r]
    lines = [f"host: {h}" for h in hosts] or ["any host"]
    lines.append(f"class: {spec.get('ingressClassName', '(default)')}")
    arch.boxes[key] = Box(key, 0, f"Ingress {_name(ingress)}", lines, "Ingress")
    routes: dict[str, list[str]] = {}
    for rule in spec.get("rules", []):
        for path in rule.get("http", {}).get("paths", []):
            backend = path["backend"]["service"]
            port = backend["port"].get("number", backend["port"].get("name"))
            target = f"Service/{backend['name']}"
            routes.setdefault(target, []).append(f"{path.get('path', '/')} → :{port}")
            if target not in arch.boxes:
                arch.boxes[target] = Box(
                    target,
                    1,
                    f"Service {backend['name']}",
                    ["not in these manifests"],
                    "Service",
                    external=True,
                )
    arch.arrows += [Arrow(key, target, ", ".join(paths)) for target, paths in routes.items()]
    issuer = ingress["metadata"].get("annotations", {}).get("cert-manager.io/cluster-issuer")
    for tls in spec.get("tls", []):
        secret = f"Secret/{tls['secretName']}"
        box = _config_box("Secret", tls["secretName"], by_key.get(secret), column=0)
        box.lines.append("TLS for " + ", ".join(tls.get("hosts", [])))
        if issuer:
            box.lines.append(f"cert-manager issuer: {issuer}")
        arch.boxes[secret] = box
        arch.arrows.append(Arrow(key, secret, "tls"))


def _add_http_route(arch: Architecture, route: Manifest) -> None:
    """An HTTPRoute, the Gateway listeners it attaches to, and its path rules to Services."""
    spec = route["spec"]
    key = _key(route)
    lines = [f"host: {h}" for h in spec.get("hostnames", [])] or ["the listener's hosts"]
    for parent in spec.get("parentRefs", []):
        lines.append(f"Gateway {parent.get('namespace', arch.namespace)}/{parent['name']}")
        lines.append(f"listener: {parent.get('sectionName', '(every listener)')}")
    arch.boxes[key] = Box(key, 0, f"HTTPRoute {_name(route)}", lines, "HTTPRoute")
    routes: dict[str, list[str]] = {}
    for rule in spec.get("rules", []):
        paths = [m.get("path", {}).get("value", "/") for m in rule.get("matches", [{}])]
        for ref in rule.get("backendRefs", []):
            namespace = ref.get("namespace", arch.namespace)
            local = namespace == arch.namespace
            name = ref["name"] if local else f"{namespace}/{ref['name']}"
            target = f"Service/{name}"
            if target not in arch.boxes:
                note = "not in these manifests" if local else "in another namespace"
                arch.boxes[target] = Box(
                    target, 1, f"Service {name}", [note], "Service", external=True
                )
            routes.setdefault(target, []).extend(f"{p} → :{ref.get('port')}" for p in paths)
    arch.arrows += [Arrow(key, target, ", ".join(paths)) for target, paths in routes.items()]


def _add_service_monitor(
    arch: Architecture, monitor: Manifest, objects: Sequence[Manifest]
) -> None:
    """A ServiceMonitor (the labels a Prometheus selects it by) and its scrape arrows to the
    Services it selects, labelled with port, path and interval."""
    spec = monitor["spec"]
    key = _key(monitor)
    # The recommended app.kubernetes.io labels describe the object; the others are what a
    # Prometheus's serviceMonitorSelector picks it by.
    labels = {
        k: v
        for k, v in monitor["metadata"].get("labels", {}).items()
        if not k.startswith("app.kubernetes.io/")
    }
    lines = (
        ["for the Prometheus selecting", _labels(labels)] if labels else ["for every Prometheus"]
    )
    arch.boxes[key] = Box(key, 0, f"ServiceMonitor {_name(monitor)}", lines, "ServiceMonitor")
    wanted = spec.get("selector", {})
    namespace = monitor["metadata"].get("namespace")
    for service in objects:
        if (
            service["kind"] == "Service"
            and service["metadata"].get("namespace") == namespace
            and _key(service) in arch.boxes
            and selects_any(wanted, [service["metadata"].get("labels", {})])
        ):
            scrapes = [
                f"scrape {e.get('port')} {e.get('path', '/metrics')} every {e.get('interval')}"
                for e in spec.get("endpoints", [])
            ]
            arch.arrows.append(Arrow(key, _key(service), ", ".join(scrapes)))


def _config_box(kind: str, name: str, manifest: Manifest | None, column: int = 3) -> Box:
    """A ConfigMap, Secret or claim; one not among the manifests is drawn as external.

    Args:
        column: where it goes; by default the last one, beside the workloads using it.
    """
    key, title = f"{kind}/{name}", f"{kind} {name}"
    if manifest is None:
        lines = ["external: not in these manifests"]
        return Box(key, column, title, lines, kind, external=True)
    if kind == "PersistentVolumeClaim":
        return Box(key, column, f"PVC {name}", [_claim(manifest["spec"])], kind)
    keys = sorted({*manifest.get("data", {}), *manifest.get("stringData", {})})
    return Box(key, column, title, _wrap("keys: ", keys), kind)


def _claim(spec: Mapping[str, Any]) -> str:
    """Size, storage class and access modes of a claim."""
    size = spec.get("resources", {}).get("requests", {}).get("storage", "?")
    modes = ", ".join(spec.get("accessModes", []))
    return f"{size} · {spec.get('storageClassName', 'default class')} · {modes}"


def _add_pod_references(
    arch: Architecture, workload: Manifest, by_key: Mapping[str, Manifest]
) -> None:
    """Arrows from a workload to the ConfigMaps, Secrets and claims its pods use."""
    spec = workload["spec"]
    pod = spec["template"]["spec"]
    containers = pod.get("initContainers", []) + pod.get("containers", [])
    mounts: dict[str, list[str]] = {}
    for container in containers:
        for mount in container.get("volumeMounts", []):
            mounts.setdefault(mount["name"], []).append(mount["mountPath"])
    uses: dict[str, list[str]] = {}

    def use(kind: str, name: str, how: str) -> None:
        target = f"{kind}/{name}"
        if target not in arch.boxes:
            arch.boxes[target] = _config_box(kind, name, by_key.get(target))
        uses.setdefault(target, []).append(how)

    for container in containers:
        for env in container.get("env", []):
            source = env.get("valueFrom", {})
            for ref, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if ref in source:
                    use(kind, source[ref]["name"], f"env {env['name']}")
        for env_from in container.get("envFrom", []):
            for ref, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if ref in env_from:
                    use(kind, env_from[ref]["name"], "envFrom")
    for volume in pod.get("volumes", []):
        how = "mount " + ", ".join(mounts.get(volume["name"], ["(unmounted)"]))
        sources = [volume, *(s for s in volume.get("projected", {}).get("sources", []))]
        for source in sources:
            if "configMap" in source:
                use("ConfigMap", source["configMap"]["name"], how)
            if "secret" in source:
                use("Secret", source["secret"].get("secretName", source["secret"].get("name")), how)
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            use("PersistentVolumeClaim", claim, how)
    for template in spec.get("volumeClaimTemplates", []):
        name = template["metadata"]["name"]
        target = f"PersistentVolumeClaim/{_name(workload)}-{name}"
        arch.boxes[target] = Box(
            target,
            3,
            f"PVC {name}-{_name(workload)}-<ordinal>",
            [_claim(template["spec"]), "one per pod (volumeClaimTemplate)"],
            "PersistentVolumeClaim",
        )
        uses[target] = ["mount " + ", ".join(mounts.get(name, ["(unmounted)"]))]
    arch.arrows += [Arrow(_key(workload), t, ", ".join(how)) for t, how in uses.items()]


def _add_policy(
    arch: Architecture, policy: Manifest, pods: Mapping[str, list[dict[str, str]]]
) -> None:
    """Green arrows between workloads, stubs for outside peers, a note for namespace-wide ones."""
    spec = policy["spec"]
    if not spec.get("podSelector"):
        arch.notes.append(f"NetworkPolicy {_name(policy)}: every pod: {_policy_rules(spec)}")
        return
    selected = [w for w, labels in pods.items() if selects_any(spec["podSelector"], labels)]
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for rule in spec.get(direction, []):
            ports = _ports(rule.get("ports"))
            for peer in rule.get(peers_key) or [{}]:
                inside = [
                    w
                    for w, labels in pods.items()
                    if set(peer) == {"podSelector"}
                    and peer["podSelector"]
                    and selects_any(peer["podSelector"], labels)
                ]
                for workload in selected:
                    for other in inside:
                        source, target = (
                            (other, workload) if direction == "ingress" else (workload, other)
                        )
                        arrow = Arrow(source, target, ports, policy=True)
                        if arrow not in arch.arrows:
                            arch.arrows.append(arrow)
                    if not inside:
                        word = "from" if direction == "ingress" else "to"
                        stub = f"{word} {_peer(peer)} · {ports}"
                        if stub not in arch.boxes[workload].stubs:
                            arch.boxes[workload].stubs.append(stub)


def _policy_rules(spec: Mapping[str, Any]) -> str:
    """A namespace-wide policy's rules in words."""
    parts = []
    for direction, peers_key in (("Ingress", "from"), ("Egress", "to")):
        rules = spec.get(direction.lower(), [])
        if direction in spec.get("policyTypes", []) and not rules:
            parts.append(f"{direction} denied unless allowed")
        for rule in rules:
            peers = " or ".join(_peer(p) for p in rule.get(peers_key) or [{}])
            word = "from" if direction == "Ingress" else "to"
            parts.append(f"{direction.lower()} {word} {peers} on {_ports(rule.get('ports'))}")
    return "; ".join(parts)


def _peer(peer: Mapping[str, Any]) -> str:
    """A policy peer in words: namespace, pods, or address block."""
    if not peer:
        return "anywhere"
    if "ipBlock" in peer:
        return f"addresses {peer['ipBlock']['cidr']}"
    words = []
    if "namespaceSelector" in peer:
        labels = peer["namespaceSelector"].get("matchLabels", {})
        name = labels.get("kubernetes.io/metadata.name")
        words.append(f"namespace {name}" if name else "namespaces " + _labels(labels))
    if peer.get("podSelector"):
        words.append("pods " + _labels(peer["podSelector"].get("matchLabels", {})))
    elif "namespaceSelector" not in peer:
        words.append("every pod of the namespace")
    return " ".join(words)


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "(any)"


def _ports(ports: Sequence[Mapping[str, Any]] | None) -> str:
    """Policy ports as ``6379/TCP``; none means all ports."""
    if not ports:
        return "all ports"
    return ", ".join(
        f"{p.get('port', 'any')}{'-' + str(p['endPort']) if 'endPort' in p else ''}"
        f"/{p.get('protocol', 'TCP')}"
        for p in ports
    )


def _wrap(prefix: str, words: Sequence[str]) -> list[str]:
    """``prefix`` then the words, comma-separated, on lines of at most ``MAX_CHARS``."""
    lines = [prefix]
    for index, word in enumerate(words or ["(none)"]):
        piece = word + ("," if index < len(words) - 1 else "")
        if len(lines[-1]) + len(piece) > MAX_CHARS and lines[-1] not in (prefix, "  "):
            lines.append("  ")
        lines[-1] += piece if lines[-1] in (prefix, "  ") else " " + piece
    return lines


@dataclass(frozen=True)
class Placed:
    """A box's centre and size, in inches from the top-left corner."""

    x: float
    y: float
    width: float
    height: float

    @property
    def top(self) -> float:
        return self.y - self.height / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height / 2


def _height(box: Box) -> float:
    return 2 * PAD + LINE * (1 + len(box.lines))


def _space_above(arch: Architecture, key: str) -> float:
    """Room above a box for its policy stubs or its self-loop."""
    stubs = arch.boxes[key].stubs
    looped = any(a.source == a.target == key for a in arch.arrows)
    return max(STUB_LINE * len(stubs) + 0.15 if stubs else 0.0, 0.45 if looped else 0.0)


def layout(arch: Architecture) -> dict[str, Placed]:
    """Workloads stacked in bands; every other box near the workloads it is linked to."""
    neighbours: dict[str, list[str]] = {key: [] for key in arch.boxes}
    for arrow in arch.arrows:
        neighbours[arrow.source].append(arrow.target)
        neighbours[arrow.target].append(arrow.source)
    workloads = _order_workloads(arch)
    owner: dict[str, str] = {}
    for workload in workloads:
        for key in neighbours[workload]:
            if arch.boxes[key].column != 2:
                owner.setdefault(key, workload)
    x = {c: MARGIN + BOX_WIDTH / 2 + c * (BOX_WIDTH + COLUMN_GAP) for c in range(4)}
    placed: dict[str, Placed] = {}
    cursor = HEADER
    for workload in workloads:
        box = arch.boxes[workload]
        stacks = [
            sum(
                _height(arch.boxes[k]) + GAP
                for k in owner
                if owner[k] == workload and arch.boxes[k].column == column
            )
            - GAP
            for column in (1, 3)
        ]
        above = _space_above(arch, workload)
        band = max(_height(box) + above, *stacks)
        y = cursor + (band + above) / 2
        placed[workload] = Placed(x[2], y, BOX_WIDTH, _height(box))
        cursor += band + BAND_GAP
    for column in (1, 3, 0):
        wanted = []
        for key, box in arch.boxes.items():
            if box.column != column:
                continue
            linked = [placed[n].y for n in neighbours[key] if n in placed]
            wanted.append((key, sum(linked) / len(linked) if linked else cursor, _height(box)))
        for key, y in _spread(wanted).items():
            placed[key] = Placed(x[column], y, BOX_WIDTH, _height(arch.boxes[key]))
    return placed


def _order_workloads(arch: Architecture) -> list[str]:
    """Workloads top to bottom: policy arrows between them as short as can be, else as found."""
    found = [k for k, b in arch.boxes.items() if b.column == 2]
    links = [(a.source, a.target) for a in arch.arrows if a.policy and a.source != a.target]
    if len(found) > 7 or not links:
        return found

    def cost(order: list[str]) -> tuple[int, ...]:
        position = {k: i for i, k in enumerate(order)}
        span = sum(abs(position[a] - position[b]) for a, b in links)
        return (span, *(found.index(k) for k in order))

    return min((list(order) for order in itertools.permutations(found)), key=cost)


def _spread(wanted: Iterable[tuple[str, float, float]]) -> dict[str, float]:
    """Centres closest to the wanted ones (least squares), in order, ``GAP`` apart at least."""
    items = sorted(wanted, key=lambda item: item[1])
    offsets, total = [], 0.0
    for index, (_key, _y, height) in enumerate(items):
        if index:
            total += items[index - 1][2] / 2 + GAP + height / 2
        offsets.append(total)
    blocks: list[tuple[float, int]] = []  # (sum of shifted wishes, count), pooled in order
    for (_key, y, _height), offset in zip(items, offsets, strict=True):
        blocks.append((y - offset, 1))
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1] = (blocks[-1][0] + last[0], blocks[-1][1] + last[1])
    starts = [total / count for total, count in blocks for _ in range(count)]
    return {
        key: start + offset
        for (key, _y, _h), start, offset in zip(items, starts, offsets, strict=True)
    }


def draw(arch: Architecture, title: str) -> Figure:
    """The picture of ``arch``: boxes, arrows, column headings, legend and footnotes."""
    placed = layout(arch)
    top = min(p.top - _space_above(arch, k) for k, p in placed.items())
    shift = HEADER - top
    placed = {k: Placed(p.x, p.y + shift, p.width, p.height) for k, p in placed.items()}
    width = 2 * MARGIN + 4 * BOX_WIDTH + 3 * COLUMN_GAP
    body = max(p.bottom for p in placed.values()) + 0.3
    height = body + 0.6 + LINE * 1.3 * len(arch.notes) + MARGIN
    figure = Figure(figsize=(width, height))
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)  # y grows downwards, like the layout
    axes.set_axis_off()
    axes.text(MARGIN, 0.35, title, fontsize=14, fontweight="bold", va="center")
    for column, heading in enumerate(
        ("Edge", "Services", "Workloads", "Configuration and storage")
    ):
        x = MARGIN + BOX_WIDTH / 2 + column * (BOX_WIDTH + COLUMN_GAP)
        axes.text(x, 0.75, heading, fontsize=10, color=GREY, ha="center", va="center")
    for arrow, (start, end) in zip(arch.arrows, _anchors(arch.arrows, placed), strict=True):
        _draw_arrow(axes, arrow, start, end)
    for key, box in arch.boxes.items():
        _draw_box(axes, box, placed[key])
    _draw_legend(axes, body + 0.3, arch.notes)
    return figure


def _draw_box(axes: Axes, box: Box, at: Placed) -> None:
    """A box with its title, lines and policy stubs."""
    fill, border = PALETTE[box.palette]
    gid = "node-" + box.key.replace("/", "-")
    axes.add_patch(
        FancyBboxPatch(
            (at.x - at.width / 2, at.top),
            at.width,
            at.height,
            boxstyle="round,pad=0,rounding_size=0.06",
            facecolor=fill,
            edgecolor=border,
            linewidth=1.2,
            linestyle="--" if box.external else "-",
            zorder=2,
            gid=gid,
        )
    )
    y = at.top + PAD + LINE / 2
    axes.text(
        at.x,
        y,
        _fit(box.title, MAX_TITLE_CHARS),
        fontsize=TITLE_SIZE,
        fontweight="bold",
        ha="center",
        va="center",
        zorder=3,
        gid=gid + "-title",
    )
    for line in box.lines:
        y += LINE
        axes.text(
            at.x, y, _fit(line, MAX_CHARS), fontsize=TEXT_SIZE, ha="center", va="center", zorder=3
        )
    for index, stub in enumerate(reversed(box.stubs)):
        axes.text(
            at.x - at.width / 2 + 0.3,
            at.top - 0.12 - index * STUB_LINE,
            stub,
            fontsize=LABEL_SIZE,
            color=POLICY,
            va="center",
            zorder=3,
        )
    if box.stubs:
        start = at.top - STUB_LINE * len(box.stubs) - 0.1
        inbound = any(s.startswith("from ") for s in box.stubs)
        axes.add_patch(
            FancyArrowPatch(
                (at.x - at.width / 2 + 0.18, start),
                (at.x - at.width / 2 + 0.18, at.top),
                arrowstyle="-|>" if inbound else "<|-",
                mutation_scale=10,
                color=POLICY,
                linestyle="--",
                linewidth=1.3,
                zorder=3,
            )
        )


Point = tuple[float, float]


def _anchors(arrows: Sequence[Arrow], placed: Mapping[str, Placed]) -> list[tuple[Point, Point]]:
    """Each arrow's two ends; arrows sharing a box side are spread along it, in order."""
    sides: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for index, arrow in enumerate(arrows):
        source, target = placed[arrow.source], placed[arrow.target]
        if source.x != target.x:
            forward = source.x < target.x
            sides.setdefault((arrow.source, "right" if forward else "left"), []).append(
                (target.y, index, 0)
            )
            sides.setdefault((arrow.target, "left" if forward else "right"), []).append(
                (source.y, index, 1)
            )
    ends: dict[tuple[int, int], Point] = {}
    for (key, side), attached in sides.items():
        box = placed[key]
        x = box.x + box.width / 2 if side == "right" else box.x - box.width / 2
        step = min(0.16, box.height * 0.6 / max(len(attached) - 1, 1))
        for rank, (_y, index, end) in enumerate(sorted(attached)):
            ends[(index, end)] = (x, box.y + (rank - (len(attached) - 1) / 2) * step)
    result = []
    for index, arrow in enumerate(arrows):
        source, target = placed[arrow.source], placed[arrow.target]
        if arrow.source == arrow.target:  # around the top-right corner
            corner = (source.x + source.width / 2, source.top)
            result.append(((corner[0] - 0.35, corner[1]), (corner[0], corner[1] + 0.3)))
        elif source.x == target.x:  # between workloads: bottom to top, or top to bottom
            down = source.y < target.y
            result.append(
                (
                    (source.x + 0.4, source.bottom if down else source.top),
                    (target.x + 0.4, target.top if down else target.bottom),
                )
            )
        else:
            result.append((ends[(index, 0)], ends[(index, 1)]))
    return result


def _draw_arrow(axes: Axes, arrow: Arrow, start: Point, end: Point) -> None:
    """An arrow with its label at the middle (beside a loop)."""
    colour = POLICY if arrow.policy else GREY
    loop = arrow.source == arrow.target
    gid = f"edge-{'policy' if arrow.policy else 'ref'}-{arrow.source}-{arrow.target}"
    gid = gid.replace("/", "-")
    axes.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=11,
            color=colour,
            linewidth=1.4 if arrow.policy else 1.0,
            linestyle="--" if arrow.policy else "-",
            connectionstyle=f"arc3,rad={-1.6 if loop else 0.0}",
            shrinkA=0,
            shrinkB=2,
            zorder=1,
            gid=gid,
        )
    )
    if arrow.label:
        x, y = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        if loop:
            x, y = end[0] + 0.15, start[1] - 0.2
        axes.text(
            x,
            y,
            arrow.label,
            fontsize=LABEL_SIZE,
            color=colour,
            ha="left" if loop else "center",
            va="center",
            zorder=3,
            gid=gid + "-label",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"},
        )


def _draw_legend(axes: Axes, y: float, notes: Sequence[str]) -> None:
    """The legend line, then the footnotes."""
    x = MARGIN
    for label, colour, style in (
        ("route or reference", GREY, "-"),
        ("NetworkPolicy allows (port/protocol)", POLICY, "--"),
    ):
        axes.add_patch(
            FancyArrowPatch(
                (x, y),
                (x + 0.5, y),
                arrowstyle="-|>",
                mutation_scale=10,
                color=colour,
                linestyle=style,
                linewidth=1.3,
            )
        )
        axes.text(x + 0.6, y, label, fontsize=TEXT_SIZE, va="center")
        x += 3.2
    axes.add_patch(
        FancyBboxPatch(
            (x, y - 0.1),
            0.5,
            0.2,
            boxstyle="round,pad=0,rounding_size=0.04",
            facecolor="white",
            edgecolor=GREY,
            linestyle="--",
        )
    )
    axes.text(x + 0.6, y, "referenced, not in these manifests", fontsize=TEXT_SIZE, va="center")
    for index, note in enumerate(notes):
        axes.text(
            MARGIN, y + 0.35 + index * LINE * 1.3, note, fontsize=TEXT_SIZE, color=GREY, va="center"
        )


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write(figure: Figure, svg: Path) -> list[Path]:
    """Save ``figure`` as ``svg`` (text kept as text, no date) and as a PNG beside it."""
    svg.parent.mkdir(parents=True, exist_ok=True)
    png = svg.with_suffix(".png")
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "journal-diagram"}):
        figure.savefig(svg, metadata={"Date": None})
    figure.savefig(png, dpi=110)
    return [svg, png]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make diagram``: draw every (or each named) environment; exit 0 or 1."""
    parser = argparse.ArgumentParser(description="Draw each environment's architecture.")
    parser.add_argument(
        "environments",
        nargs="*",
        metavar="ENV",
        help="environments to draw (default: every dist/<env>/ with manifests)",
    )
    parser.add_argument(
        "--dist", type=Path, default=Path("dist"), help="synth output folder (default: dist)"
    )
    parser.add_argument("--out", type=Path, help="where to write (default: <dist>/diagrams)")
    arguments = parser.parse_args(argv)
    out = arguments.out or arguments.dist / "diagrams"
    names = arguments.environments or sorted(
        {p.parent.name for p in arguments.dist.glob("*/*.k8s.yaml")}
    )
    if not names:
        print(
            f"diagram failed: {arguments.dist}: no synthesized environments "
            "(<env>/*.k8s.yaml) found: run 'make synth' first",
            file=sys.stderr,
        )
        return 1
    for name in names:
        try:
            objects = read_manifests(arguments.dist / name)
        except ManifestsError as error:
            print(f"diagram failed: {error}", file=sys.stderr)
            return 1
        try:
            arch = architecture(objects)
        except ValueError as error:  # a selector the API server would refuse too
            print(f"diagram failed: {arguments.dist / name}: {error}", file=sys.stderr)
            return 1
        figure = draw(arch, f"journal · {name}   (namespace {arch.namespace})")
        for path in write(figure, out / f"{name}.svg"):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
