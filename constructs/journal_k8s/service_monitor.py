"""ServiceMonitor: Prometheus (of the Prometheus Operator) scrapes the metrics port of a Service.

The tiers build the same objects with ``monitor_objects`` inside their own batch; the
``ServiceMonitor`` construct does it for a ``kplus.Service`` of your own workload.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import cdk8s
from constructs import Construct

from . import _bulk, _monitoring, _network, _pod
from ._base import JournalConstruct
from ._exporters import METRICS_PORT_NAME
from ._kplus import k8s, kplus
from ._network import Pods
from ._peers import pods_of
from ._types import (
    DEFAULT_METRICS_PATH,
    Metrics,
    check_dns_label,
    check_http_path,
    check_service_name,
    check_type,
)

SERVICE_MONITOR = ("monitoring.coreos.com/v1", "ServiceMonitor")
"""``apiVersion`` and ``kind`` of ``_monitoring.ServiceMonitor`` (its ``GVK``, no jsii call)."""
PROMETHEUS_RULE = ("monitoring.coreos.com/v1", "PrometheusRule")
"""``apiVersion`` and ``kind`` of ``_monitoring.PrometheusRule``."""
MONITOR_LABEL = "journal.example.com/service-monitor"
"""The label a ServiceMonitor selects its Service by: the ServiceMonitor's name."""


def prometheus_peer(metrics: Metrics) -> k8s.NetworkPolicyPeer:
    """The Prometheus pods: ``metrics.prometheus_labels`` in ``metrics.prometheus_namespace``."""
    return k8s.NetworkPolicyPeer(
        namespace_selector=_network.in_namespace(metrics.prometheus_namespace),
        pod_selector=k8s.LabelSelector(match_labels=dict(metrics.prometheus_labels)),
    )


def service_monitor(
    *,
    name: str,
    labels: Mapping[str, str],
    port: str,
    path: str,
    metrics: Metrics,
    selects: str | None = None,
) -> _bulk.Typed:
    """A ServiceMonitor of the Services labelled ``MONITOR_LABEL: selects`` (default:
    ``name``), on their port ``port``; its ``job`` label is the Service's name."""
    props = _monitoring.ServiceMonitorProps(
        metadata=cdk8s.ApiObjectMetadata(name=name, labels={**labels, **metrics.monitor_labels}),
        spec=_monitoring.ServiceMonitorSpec(
            selector=_monitoring.ServiceMonitorSpecSelector(
                match_labels={MONITOR_LABEL: selects or name}
            ),
            endpoints=[
                _monitoring.ServiceMonitorSpecEndpoints(
                    port=port, path=path, interval=metrics.interval
                )
            ],
        ),
    )
    api_version, kind = SERVICE_MONITOR
    manifest = {"apiVersion": api_version, "kind": kind, **_bulk.crd_json(props, {})}
    return _bulk.Typed(_monitoring.ServiceMonitor, manifest)


def prometheus_rule(
    *, name: str, labels: Mapping[str, str], groups: Sequence[Mapping[str, Any]], metrics: Metrics
) -> _bulk.Typed:
    """A PrometheusRule of rule ``groups`` (``_alerts.group``)."""
    typed = [
        _monitoring.PrometheusRuleSpecGroups(
            name=str(group["name"]),
            rules=[
                _monitoring.PrometheusRuleSpecGroupsRules(
                    **{_RULE_FIELDS.get(k, k): v for k, v in rule.items() if k != "expr"},
                    expr=_expr_placeholder(),
                )
                for rule in group["rules"]
            ],
        )
        for group in groups
    ]
    props = _monitoring.PrometheusRuleProps(
        metadata=cdk8s.ApiObjectMetadata(name=name, labels={**labels, **metrics.monitor_labels}),
        spec=_monitoring.PrometheusRuleSpec(groups=typed),
    )
    body = _bulk.crd_json(props, {})
    for rendered, group in zip(body["spec"]["groups"], groups, strict=True):
        for rule, given in zip(rendered["rules"], group["rules"], strict=True):
            rule["expr"] = given["expr"]
    api_version, kind = PROMETHEUS_RULE
    return _bulk.Typed(
        _monitoring.PrometheusRule, {"apiVersion": api_version, "kind": kind, **body}
    )


_RULE_FIELDS = {"for": "for_"}


@functools.cache
def _expr_placeholder() -> _monitoring.PrometheusRuleSpecGroupsRulesExpr:
    """One ``expr`` for every typed rule; ``expr`` is an int-or-string, a jsii object that
    lives in Node (one round trip each), so the rules get their text in Python instead."""
    return _monitoring.PrometheusRuleSpecGroupsRulesExpr.from_string("")


def monitor_objects(
    *,
    name: str,
    pods: Mapping[str, str],
    port: int,
    path: str = DEFAULT_METRICS_PATH,
    metrics: Metrics,
    groups: Sequence[Mapping[str, Any]] = (),
    id_prefix: str = "",
    container_port: str = METRICS_PORT_NAME,
) -> dict[str, _bulk.Body]:
    """What a tier's metrics need, by construct id: a headless Service ``<name>-metrics`` of
    ``pods``' container port ``container_port`` (not-ready pods included), its
    ServiceMonitor, the NetworkPolicy that lets only Prometheus reach that port, and a
    PrometheusRule of ``groups`` (if any). Their construct ids start with ``id_prefix``."""
    service = f"{name}-metrics"
    labels = _pod.object_labels(name, "metrics")
    body = _pod.service(
        name=service,
        labels={**labels, MONITOR_LABEL: service},
        selector=pods,
        port_name=METRICS_PORT_NAME,
        port_number=port,
        headless=True,
        target_port=container_port,
    )
    objects: dict[str, _bulk.Body] = {
        f"{id_prefix}MetricsService": body,
        f"{id_prefix}ServiceMonitor": service_monitor(
            name=service, labels=labels, port=METRICS_PORT_NAME, path=path, metrics=metrics
        ),
        f"{id_prefix}MetricsPolicy": _network.allow(
            direction="Ingress",
            name=f"{name}-from-prometheus",
            pods=k8s.LabelSelector(match_labels=dict(pods)),
            peers=[prometheus_peer(metrics)],
            port=container_port,
            labels=labels,
        ),
    }
    if groups:
        objects[f"{id_prefix}Alerts"] = prometheus_rule(
            name=f"{name}-alerts", labels=labels, groups=groups, metrics=metrics
        )
    return objects


class ServiceMonitor(JournalConstruct):
    """Prometheus scrapes a Service's port: a ServiceMonitor, and the NetworkPolicy for it.

    The tiers make the same objects for their exporters; use this for your own cdk8s-plus
    workload. The Service gets the label ``MONITOR_LABEL: <name>``, which the ServiceMonitor
    selects (a second monitor of the Service, for another Prometheus, selects the label the
    first one gave it); Prometheus names its targets ``job=<service name>``. A NetworkPolicy
    lets the Prometheus pods (and no others) reach the pods the Service selects on its target
    port.

    Args:
        scope: the parent construct, in the Service's namespace (a ServiceMonitor selects the
            Services of its own namespace; another one is refused).
        id: the construct id.
        service: the ``kplus.Service`` to scrape.
        port: the name of the Service's port that serves metrics.
        metrics: who scrapes and how (``Metrics``).
        name: the ServiceMonitor's name. Default: the Service's name.
        path: the HTTP path of the metrics. Default: ``"/metrics"``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service: kplus.Service,
        port: str,
        metrics: Metrics,
        name: str | None = None,
        path: str = DEFAULT_METRICS_PATH,
    ) -> None:
        super().__init__(scope, id)
        check_type("service", service, kplus.Service)
        check_type("metrics", metrics, Metrics)
        check_service_name("port", port)
        check_http_path("path", path)
        name = check_dns_label("name", name or service.name)
        ports = {p.name: p for p in service.ports}
        if port not in ports:
            named = sorted(n for n in ports if n)
            has = f"named ports {named}" if named else "no named port"
            raise ValueError(
                f"port={port!r} is not allowed: Service {service.name!r} has {has} "
                f"(a ServiceMonitor scrapes a port by its name: name the Service's port)"
            )
        own: Pods = pods_of(service, "service")
        here = cdk8s.Chart.of(self).namespace
        if own.namespace != here:
            raise ValueError(
                f"scope={self.node.scope} is not allowed: it is in namespace {here!r} and "
                f"service={service.name!r} in {own.namespace!r}, while a ServiceMonitor selects "
                "the Services of its own namespace; give it a scope in the Service's chart"
            )
        # A second monitor of one Service (another Prometheus) selects the label the first set.
        selects = service.metadata.get_label(MONITOR_LABEL)
        if selects is None:
            service.metadata.add_label(MONITOR_LABEL, name)
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "metrics"}
        _bulk.define(
            self,
            {
                "Resource": service_monitor(
                    name=name,
                    labels=labels,
                    port=port,
                    path=path,
                    metrics=metrics,
                    selects=selects,
                ),
                "Policy": _network.allow(
                    direction="Ingress",
                    name=f"{name}-from-prometheus",
                    pods=own.selector(),
                    peers=[prometheus_peer(metrics)],
                    port=int(ports[port].target_port or ports[port].port),
                    labels=labels,
                ),
            },
        )

    @property
    def resource(self) -> cdk8s.ApiObject:
        """The ServiceMonitor (construct id ``Resource``), for JSON patches."""
        return _bulk.api_object(self, "Resource")
