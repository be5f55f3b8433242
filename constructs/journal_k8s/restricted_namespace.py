"""RestrictedNamespace: a namespace with its guard rails, for the tiers that run in it."""

from __future__ import annotations

from cdk8s_plus_27 import k8s
from constructs import Construct

from . import _bulk, _capacity, _network
from ._types import Quota, check_dns_label

POD_SECURITY_VERSION = "v1.27"
"""The Pod Security Standards version the namespace pins (the API version of the library)."""


class RestrictedNamespace(Construct):
    """A Namespace enforcing Pod Security ``restricted``, with quota, limits and default deny.

    At synth, every pod template in the namespace (from any chart of the app) must meet
    ``restricted``; a workload that does not fails the synth, named with the missing field
    (``adopt_restricted`` fixes a cdk8s-plus workload). Every pod of the namespace is denied
    all traffic but DNS until a NetworkPolicy (such as
    those of the journal constructs) lets it through. Containers without resources get the
    LimitRange defaults (requests 100m/128Mi, limits 500m/512Mi). At synth, the quota must
    hold every workload of the namespace at its most (``journal_k8s.capacity_problems``): an
    autoscaler's ``maxReplicas`` plus the rolling-update surge, times each pod's requests and
    limits, sidecars and init containers included; a failure names the quota key, the
    workloads and the figures.

    Args:
        scope: the parent construct.
        id: the construct id.
        name: the namespace's name (a DNS-1123 label).
        quota: the namespace's totals (its ResourceQuota ``journal-quota``).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, quota: Quota) -> None:
        super().__init__(scope, id)
        check_dns_label("name", name)
        security = {
            f"pod-security.kubernetes.io/{mode}{suffix}": value
            for mode in ("enforce", "audit", "warn")
            for suffix, value in (("", "restricted"), ("-version", POD_SECURITY_VERSION))
        }
        every_pod = k8s.LabelSelector()
        q = _bulk.quantity
        _bulk.define(
            self,
            {
                "Resource": k8s.KubeNamespaceProps(
                    metadata=k8s.ObjectMeta(name=name, labels=security)
                ),
                "Quota": k8s.KubeResourceQuotaProps(
                    metadata=k8s.ObjectMeta(name="journal-quota", namespace=name),
                    spec=k8s.ResourceQuotaSpec(
                        hard={
                            "requests.cpu": q(quota.cpu),
                            "limits.cpu": q(quota.cpu),
                            "requests.memory": q(quota.memory),
                            "limits.memory": q(quota.memory),
                            "requests.storage": q(quota.storage),
                            "pods": q(quota.pods),
                        }
                    ),
                ),
                "Limits": k8s.KubeLimitRangeProps(
                    metadata=k8s.ObjectMeta(name="journal-limits", namespace=name),
                    spec=k8s.LimitRangeSpec(
                        limits=[
                            k8s.LimitRangeItem(
                                type="Container",
                                default_request={"cpu": q("100m"), "memory": q("128Mi")},
                                default={"cpu": q("500m"), "memory": q("512Mi")},
                            )
                        ]
                    ),
                ),
                "DefaultDeny": k8s.KubeNetworkPolicyProps(
                    metadata=k8s.ObjectMeta(name="default-deny", namespace=name),
                    spec=k8s.NetworkPolicySpec(
                        pod_selector=every_pod, policy_types=["Ingress", "Egress"]
                    ),
                ),
                "AllowDns": k8s.KubeNetworkPolicyProps(
                    metadata=k8s.ObjectMeta(name="allow-dns", namespace=name),
                    spec=k8s.NetworkPolicySpec(
                        pod_selector=every_pod, policy_types=["Egress"], egress=[_network.dns()]
                    ),
                ),
            },
            # A Namespace is cluster-scoped: drop the namespace the chart gives every object.
            [("Resource", {"op": "remove", "path": "/metadata/namespace"})],
        )
        _capacity.require(self)
