"""``make diagram``: one architecture picture per environment, drawn from its manifests.

Columns, left to right: the edge (Ingresses with their TLS Secrets, Gateway API HTTPRoutes
with the Gateway they attach to; and the ServiceMonitors, the scrape path of Prometheus),
Services, workloads (their exporter sidecars among the containers), then the ConfigMaps,
Secrets and volume claims the pods use; each PrometheusRule is a note naming its alerts.
Grey arrows are routes and references; green dashed arrows are what the NetworkPolicies
allow, labelled with the ports, from or to the peers outside the namespace too. Graphviz
``dot`` (Debian package graphviz) lays the picture out. Output goes to
``dist/diagrams/<env>.svg`` and ``.png``, published under the lock of ``make synth``.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz

from journal_k8s import rules
from journal_k8s.path_ingress import CLUSTER_ISSUER_ANNOTATION

from .checks import config_references
from .env_diff import Manifest, ManifestsError, read_manifests
from .publish import PublishError, publish
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

DOT_MISSING = "Graphviz's dot is not installed (Debian package graphviz)"
COLUMNS = ("Edge", "Services", "Workloads", "Configuration and storage")
MAX_CHARS = 48
FONT = "DejaVu Sans"
BOLD = f"{FONT} Bold"  # a face, not <b>: dot measures it right
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
    column: int | None
    """Where it goes (an index of ``COLUMNS``); ``None``: a policy peer outside the namespace."""
    title: str
    lines: list[str]
    palette: str
    external: bool = False


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
    issuer = ingress["metadata"].get("annotations", {}).get(CLUSTER_ISSUER_ANNOTATION)
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
    mounts: dict[str, list[str]] = {}
    for _, container in rules.containers(pod, ""):
        for mount in container.get("volumeMounts", []):
            mounts.setdefault(mount["name"], []).append(mount["mountPath"])

    def mounted(volume: str) -> str:
        return "mount " + ", ".join(mounts.get(volume, ["(unmounted)"]))

    uses: dict[str, list[str]] = {}
    claims = [
        ("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"], f"volume {v['name']}")
        for v in pod.get("volumes", [])
        if "persistentVolumeClaim" in v
    ]
    for kind, name, use in [
        *((r.kind, r.name, r.use) for r in config_references(pod, "")),
        *claims,
    ]:
        target = f"{kind}/{name}"
        if target not in arch.boxes:
            arch.boxes[target] = _config_box(kind, name, by_key.get(target))
        how = mounted(use.removeprefix("volume ")) if use.startswith("volume ") else use
        uses.setdefault(target, []).append(how)
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
        uses[target] = [mounted(name)]
    arch.arrows += [Arrow(_key(workload), t, ", ".join(how)) for t, how in uses.items()]


def _add_policy(
    arch: Architecture, policy: Manifest, pods: Mapping[str, list[dict[str, str]]]
) -> None:
    """Green arrows between workloads, and to or from peers outside the namespace; a note for
    namespace-wide policies."""
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
                if not inside:
                    key = f"Peer/{_peer(peer)}"
                    arch.boxes.setdefault(key, Box(key, None, _peer(peer), [], ""))
                    inside = [key]
                for workload in selected:
                    for other in inside:
                        ends = (other, workload) if direction == "ingress" else (workload, other)
                        arrow = Arrow(*ends, ports, policy=True)
                        if arrow not in arch.arrows:
                            arch.arrows.append(arrow)


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
    return textwrap.wrap(prefix + (", ".join(words) or "(none)"), MAX_CHARS, subsequent_indent="  ")


def draw(arch: Architecture, title: str) -> graphviz.Digraph:
    """The picture of ``arch``: a column per tier, laid out by Graphviz ``dot``."""
    graph = graphviz.Digraph(
        arch.namespace,
        graph_attr={
            **{"rankdir": "LR", "newrank": "true", "ranksep": "1.1", "nodesep": "0.2"},
            **{"label": _heading(title, arch.notes), "labelloc": "t", "labeljust": "l"},
            **{"fontname": FONT, "bgcolor": "white", "pad": "0.3"},
        },
        node_attr={"shape": "plain", "fontname": FONT, "fontsize": "10"},
        edge_attr={"fontname": FONT, "fontsize": "8", "arrowsize": "0.7", "color": GREY},
    )
    for column, heading in enumerate(COLUMNS):
        with graph.subgraph() as rank:
            rank.attr(rank="same")
            title = f"column-{column}"
            rank.node(title, heading, id=svg_id("node", title), fontcolor=GREY, fontname=BOLD)
            for key, box in arch.boxes.items():
                if box.column == column:
                    rank.node(key, _table(box), id=svg_id("node", key))
                    rank.edge(title, key, style="invis")  # the heading above its column
        if column:
            graph.edge(f"column-{column - 1}", title, style="invis", weight="10")
    for key, box in arch.boxes.items():
        if box.column is None:  # a policy peer outside the namespace
            style = {"shape": "box", "style": "rounded,dashed", "color": POLICY}
            graph.node(key, box.title, id=svg_id("node", key), fontcolor=POLICY, **style)
    for arrow in arch.arrows:
        kind = "policy" if arrow.policy else "ref"
        style = {"color": POLICY, "style": "dashed"} if arrow.policy else {"color": GREY}
        columns = arch.boxes[arrow.source].column, arch.boxes[arrow.target].column
        forward = None in columns or columns[0] < columns[1]  # type: ignore[operator]
        graph.edge(
            arrow.source,
            arrow.target,
            label=html.escape(arrow.label),
            id=svg_id(f"edge-{kind}", f"{arrow.source}-{arrow.target}"),
            fontcolor=style["color"],
            constraint="true" if forward else "false",
            **style,
        )
    return graph


def _table(box: Box) -> str:
    """A box as a Graphviz HTML-like label: a bold title over its lines."""
    fill, border = PALETTE[box.palette]
    rows = "".join(f"<tr><td>{html.escape(line)}</td></tr>" for line in box.lines)
    style = ' style="dashed"' if box.external else ""
    return (
        f'<<table border="1" cellborder="0" cellspacing="0" cellpadding="2" '
        f'bgcolor="{fill}" color="{border}"{style}>'
        f'<tr><td><font face="{BOLD}">{html.escape(box.title)}</font></td></tr>{rows}</table>>'
    )


def _heading(title: str, notes: Sequence[str]) -> str:
    """The title, the legend and the notes, above the picture."""
    legend = (
        f'<font color="{GREY}">⟶</font> route or reference    '
        f'<font color="{POLICY}">- - ▸</font> NetworkPolicy allows (port/protocol)    '
        "dashed border: referenced, not in these manifests"
    )
    lines = [
        f'<font point-size="16"><b>{html.escape(title)}</b></font>',
        f'<font point-size="10">{legend}</font>',
        *(
            f'<font point-size="9" color="{GREY}">{html.escape(line)}</font>'
            for note in notes
            for line in textwrap.wrap(note, 160, subsequent_indent="    ")
        ),
    ]
    return "<" + '<br align="left"/>'.join(lines) + '<br align="left"/>>'


def svg_id(prefix: str, key: str) -> str:
    """An SVG id: ``prefix``, then ``key`` with each run of other characters as ``-``."""
    return f"{prefix}-" + re.sub(r"[^A-Za-z0-9_.]+", "-", key)


def render(graph: graphviz.Digraph, name: str) -> dict[str, bytes]:
    """``<name>.svg`` and ``<name>.png`` of ``graph``, drawn by ``dot``."""
    return {f"{name}.{kind}": graph.pipe(format=kind) for kind in ("svg", "png")}


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
    files: dict[str, bytes] = {}
    try:
        for name in names:
            try:
                arch = architecture(read_manifests(arguments.dist / name))
            except ValueError as error:  # a selector the API server would refuse too
                raise ManifestsError(f"{arguments.dist / name}: {error}") from None
            files |= render(draw(arch, f"journal · {name} (namespace {arch.namespace})"), name)
        publish(out.parent, {out.name: files}, record=False)
    except graphviz.ExecutableNotFound:
        print(f"diagram failed: {DOT_MISSING}", file=sys.stderr)
        return 1
    except (ManifestsError, PublishError) as error:
        print(f"diagram failed, {out}/ left as it was:\n{error}", file=sys.stderr)
        return 1
    for file in files:
        print(out / file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
