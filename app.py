#!/usr/bin/env python3
"""The deployable app: one chart per environment of environments/, written to dist/<env>/."""

from __future__ import annotations

from typing import Any

if __name__ == "__main__":
    import gc

    # A synth is one short process that frees nothing until it ends: the cycle collector would
    # walk every jsii module at each of the imports' ~180 collections (about 95 ms of CPU in
    # a cold synth) and find no garbage; the render pauses it anyway
    # (synth.cycle_collector_paused).
    gc.disable()
    # Before anything slow: make synth starts Python with SIGINT and SIGTERM blocked.
    from journal_tools import interrupts

    interrupts.exit_on_signal(
        "synth interrupted: the output folder holds the previous or the new output of every "
        "environment, never a mix"
    )

from journal_tools import preload
from journal_tools.node import use_bundled_node

use_bundled_node()
# Node starts during the next imports (about 0.2 s in which Python waits for it): the values'
# libraries are imported meanwhile.
preloading = preload.start()

import cdk8s  # noqa: E402

from journal_k8s import (  # noqa: E402
    Autoscaling,
    ExistingSecret,
    Failover,
    IngressTls,
    JournalService,
    Metrics,
    PathRoute,
    Quota,
    Resources,
    RestrictedNamespace,
)

preloading.join()
from journal_tools import synth, values, values_yaml  # noqa: E402


def resources(tier: str, given: values.Resources) -> Resources:
    """A tier's resources; a refused value is reported at ``<tier>.resources.<key>``."""
    keys = {name: (tier, "resources", name) for name in ("cpu", "memory")}
    with synth.values_keys(keys):
        return Resources(cpu=given.cpu, memory=given.memory)


def autoscaling(tier: str, given: values.Autoscaling | None) -> Autoscaling | None:
    """A tier's autoscaler (``None`` for fixed replicas); the keys the values leave unset keep
    the library's defaults, a refused value is reported at ``<tier>.autoscaling.<key>``."""
    if given is None:
        return None
    settings: dict[str, Any] = given.model_dump(exclude_none=True)
    fields = values.Autoscaling.model_fields
    keys = {
        f"autoscaling {name}": (tier, "autoscaling", fields[name].alias or name)
        for name in settings
    }
    with synth.values_keys(keys):
        return Autoscaling(**settings)


def gateway_route(chart: cdk8s.Chart, edge: values.Edge) -> PathRoute | None:
    """The HTTPRoute of a Gateway edge; ``None`` for an Ingress (JournalService builds it)."""
    if isinstance(edge, values.IngressEdge):
        return None
    return PathRoute(
        chart,
        "Route",
        gateway_name=edge.name,
        gateway_namespace=edge.namespace,
        section_name=edge.section_name,
        hostnames=edge.hostnames,
        data_plane_namespace=edge.data_plane_namespace,
        data_plane_labels=edge.data_plane_labels,
    )


def redis_failover(failover: values.RedisFailover | None) -> Failover | None:
    """The Redis failover settings; the keys the values leave unset keep the defaults."""
    if failover is None:
        return None
    settings: dict[str, Any] = failover.model_dump(exclude_none=True)
    if failover.proxy_image is not None:
        settings["proxy_image"] = failover.proxy_image.reference
    if failover.proxy_resources is not None:
        resources = failover.proxy_resources
        settings["proxy_resources"] = Resources(cpu=resources.cpu, memory=resources.memory)
    return Failover(**settings)


def replicas(v: values.EnvironmentValues) -> dict[str, Any]:
    """The fixed replicas of the API and static tiers (none for a tier that autoscales)."""
    given = {"frontend_replicas": v.frontend.replicas, "static_replicas": v.static.replicas}
    return {argument: count for argument, count in given.items() if count is not None}


def metrics_arguments(metrics: values.Metrics | None) -> dict[str, Any]:
    """JournalService's metrics arguments; none while ``metrics.enabled`` is false."""
    if metrics is None or not metrics.enabled:
        return {}
    frontend = metrics.frontend
    return {
        "metrics": Metrics(
            prometheus_namespace=metrics.prometheus.namespace,
            prometheus_labels=metrics.prometheus.pod_labels,
            monitor_labels=metrics.monitor_labels,
            interval=metrics.interval,
        ),
        **({} if frontend is None else {"frontend_metrics_port": frontend.port}),
        **({} if frontend is None else {"frontend_metrics_path": frontend.path}),
    }


def ingress_arguments(ingress: values.Ingress | None) -> dict[str, Any]:
    """JournalService's Ingress arguments; none with a Gateway edge (the values have no Ingress)."""
    if ingress is None:
        return {}
    tls = ingress.tls
    return {
        "ingress_class": ingress.class_name,
        "host": ingress.host,
        "tls": None
        if tls is None
        else IngressTls(secret_name=tls.secret_name, cluster_issuer=tls.cluster_issuer),
        "ingress_controller_namespace": ingress.controller_namespace,
    }


def build(app: cdk8s.App, environment: values.Environment) -> cdk8s.Chart:
    """The chart of one environment: its namespace guard rails, then the journal service."""
    v = environment.values
    chart = cdk8s.Chart(
        app, environment.name, namespace=v.namespace, disable_resource_name_hashes=True
    )
    quota_keys = {f"quota {name}": ("quota", name) for name in ("cpu", "memory", "storage", "pods")}
    with synth.values_keys({**quota_keys, "name": ("namespace",)}):
        RestrictedNamespace(
            chart,
            "Namespace",
            name=v.namespace,
            quota=Quota(
                cpu=v.quota.cpu, memory=v.quota.memory, storage=v.quota.storage, pods=v.quota.pods
            ),
        )
    frontend_resources = resources("frontend", v.frontend.resources)
    static_resources = resources("static", v.static.resources)
    redis_resources = resources("redis", v.redis.resources)
    with synth.values_keys(JOURNAL_KEYS):
        journal(chart, v, frontend_resources, static_resources, redis_resources)
    return chart


JOURNAL_KEYS: dict[str, values_yaml.KeyPath] = {
    "journal_entries": ("frontend", "journalEntries"),
    "redis_storage": ("redis", "storage", "size"),
    "redis_storage_class": ("redis", "storage", "storageClass"),
    "ingress_class": ("ingress", "className"),
    "ingress_controller_namespace": ("ingress", "controllerNamespace"),
    "host": ("ingress", "host"),
    "tls": ("ingress", "tls"),
    "tls secret_name": ("ingress", "tls", "secretName"),
    "tls cluster_issuer": ("ingress", "tls", "clusterIssuer"),
    "metrics_port": ("metrics", "frontend", "port"),
    "metrics_path": ("metrics", "frontend", "path"),
    "metrics prometheus_namespace": ("metrics", "prometheus", "namespace"),
    "metrics prometheus_labels": ("metrics", "prometheus", "podLabels"),
    "metrics monitor_labels": ("metrics", "monitorLabels"),
    "metrics interval": ("metrics", "interval"),
}
"""The values key behind each JournalService argument that a construct names in an error."""


def journal(
    chart: cdk8s.Chart,
    v: values.EnvironmentValues,
    frontend_resources: Resources,
    static_resources: Resources,
    redis_resources: Resources,
) -> None:
    """The journal service of one environment's values."""
    JournalService(
        chart,
        "Journal",
        frontend_image=v.frontend.image.reference,
        frontend_resources=frontend_resources,
        frontend_autoscaling=autoscaling("frontend", v.frontend.autoscaling),
        journal_entries=v.frontend.journal_entries,
        static_image=v.static.image.reference,
        static_resources=static_resources,
        static_autoscaling=autoscaling("static", v.static.autoscaling),
        redis_image=v.redis.image.reference,
        redis_replicas=v.redis.replicas,
        redis_resources=redis_resources,
        redis_storage=v.redis.storage.size,
        redis_storage_class=v.redis.storage.storage_class,
        redis_password=ExistingSecret(
            name=v.redis.password_secret.name, key=v.redis.password_secret.key
        ),
        redis_failover=redis_failover(v.redis.failover),
        edge=gateway_route(chart, v.edge),
        **ingress_arguments(v.ingress),
        **metrics_arguments(v.metrics),
        **replicas(v),
    )


if __name__ == "__main__":
    interrupts.leave(synth.main(build))
