#!/usr/bin/env python3
"""The deployable app: one chart per environment of environments/, written to dist/<env>/."""

from __future__ import annotations

import functools
import sys

from journal_tools.node import use_bundled_node

use_bundled_node()

import cdk8s  # noqa: E402

from imports import k8s  # noqa: E402
from journal_k8s import ExistingSecret, IngressTls, JournalService, Resources  # noqa: E402
from journal_tools import synth, values  # noqa: E402


def build(app: cdk8s.App, environment: values.Environment) -> cdk8s.Chart:
    """The chart of one environment: its namespace guard rails, then the journal service."""
    v = environment.values
    chart = cdk8s.Chart(
        app, environment.name, namespace=v.namespace, disable_resource_name_hashes=True
    )
    add_namespace(chart, v)
    JournalService(
        chart,
        "Journal",
        frontend_image=v.frontend.image.reference,
        frontend_replicas=v.frontend.replicas,
        frontend_resources=Resources(
            cpu=v.frontend.resources.cpu, memory=v.frontend.resources.memory
        ),
        journal_entries=v.frontend.journal_entries,
        static_image=v.static.image.reference,
        static_replicas=v.static.replicas,
        static_resources=Resources(cpu=v.static.resources.cpu, memory=v.static.resources.memory),
        redis_image=v.redis.image.reference,
        redis_replicas=v.redis.replicas,
        redis_resources=Resources(cpu=v.redis.resources.cpu, memory=v.redis.resources.memory),
        redis_storage=v.redis.storage.size,
        redis_storage_class=v.redis.storage.storage_class,
        redis_password=ExistingSecret(
            name=v.redis.password_secret.name, key=v.redis.password_secret.key
        ),
        ingress_class=v.ingress.class_name,
        host=v.ingress.host,
        tls=None
        if v.ingress.tls is None
        else IngressTls(
            secret_name=v.ingress.tls.secret_name, cluster_issuer=v.ingress.tls.cluster_issuer
        ),
        ingress_controller_namespace=v.ingress.controller_namespace,
    )
    return chart


quantity = functools.cache(k8s.Quantity.from_string)  # one jsii round trip per distinct amount


def add_namespace(chart: cdk8s.Chart, v: values.EnvironmentValues) -> None:
    """The namespace (Pod Security ``restricted`` enforced), its quota, limits and default deny."""
    namespace = k8s.KubeNamespace(
        chart,
        "Namespace",
        metadata=k8s.ObjectMeta(
            name=v.namespace,
            labels={
                f"pod-security.kubernetes.io/{mode}": "restricted"
                for mode in ("enforce", "audit", "warn")
            }
            | {
                f"pod-security.kubernetes.io/{mode}-version": "v1.27"
                for mode in ("enforce", "audit", "warn")
            },
        ),
    )
    # A Namespace is cluster-scoped: drop the namespace the chart gives every object.
    cdk8s.ApiObject.of(namespace).add_json_patch(cdk8s.JsonPatch.remove("/metadata/namespace"))
    k8s.KubeResourceQuota(
        chart,
        "Quota",
        metadata=k8s.ObjectMeta(name="journal-quota"),
        spec=k8s.ResourceQuotaSpec(
            hard={
                "requests.cpu": quantity(v.quota.cpu),
                "limits.cpu": quantity(v.quota.cpu),
                "requests.memory": quantity(v.quota.memory),
                "limits.memory": quantity(v.quota.memory),
                "requests.storage": quantity(v.quota.storage),
                "pods": k8s.Quantity.from_number(v.quota.pods),
            }
        ),
    )
    k8s.KubeLimitRange(
        chart,
        "Limits",
        metadata=k8s.ObjectMeta(name="journal-limits"),
        spec=k8s.LimitRangeSpec(
            limits=[
                k8s.LimitRangeItem(
                    type="Container",
                    default_request={
                        "cpu": quantity("100m"),
                        "memory": quantity("128Mi"),
                    },
                    default={
                        "cpu": quantity("500m"),
                        "memory": quantity("512Mi"),
                    },
                )
            ]
        ),
    )
    k8s.KubeNetworkPolicy(
        chart,
        "DefaultDeny",
        metadata=k8s.ObjectMeta(name="default-deny"),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(), policy_types=["Ingress", "Egress"]
        ),
    )
    k8s.KubeNetworkPolicy(
        chart,
        "AllowDns",
        metadata=k8s.ObjectMeta(name="allow-dns"),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(),
            policy_types=["Egress"],
            egress=[
                k8s.NetworkPolicyEgressRule(
                    to=[
                        k8s.NetworkPolicyPeer(
                            namespace_selector=k8s.LabelSelector(
                                match_labels={"kubernetes.io/metadata.name": "kube-system"}
                            ),
                            pod_selector=k8s.LabelSelector(match_labels={"k8s-app": "kube-dns"}),
                        )
                    ],
                    ports=[
                        k8s.NetworkPolicyPort(
                            protocol=protocol, port=k8s.IntOrString.from_number(53)
                        )
                        for protocol in ("UDP", "TCP")
                    ],
                )
            ],
        ),
    )


if __name__ == "__main__":
    sys.exit(synth.main(build))
