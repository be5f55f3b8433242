"""RestrictedNamespace: a namespace with its guard rails, for the tiers that run in it."""

from __future__ import annotations

import cdk8s
import jsii
from constructs import Construct, IValidation

from . import _bulk, _network, _pod
from ._base import JournalConstruct
from ._kplus import k8s
from ._types import Quota, Resources, check_dns_label, check_dns_subdomain, check_instance
from .rules import POD_SECURITY_PREFIX, TEMPLATE_PATHS

POD_SECURITY_VERSION = "v1.27"
"""The Pod Security Standards version the namespace pins (the API version of the library)."""
DEFAULT_CONTAINER_RESOURCES = Resources(
    cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="512Mi"
)
"""What the LimitRange gives a container that sets no resources of its own."""


class RestrictedNamespace(JournalConstruct):
    """A Namespace enforcing Pod Security ``restricted``, with quota, limits and default deny.

    At synth, every pod template in the namespace (from any chart of the app) must meet
    ``restricted``; a workload that does not fails the synth, named with the missing field
    (``adopt_restricted`` fixes a cdk8s-plus workload); in a chart without a namespace, a
    workload without one fails the synth (the check cannot know where kubectl puts it). Every
    pod of the namespace is denied
    all traffic but DNS until a NetworkPolicy (such as
    those of the journal constructs) lets it through. Containers without resources get the
    LimitRange defaults (``container_defaults``). At synth, the quota must hold every
    workload of the namespace at its most (``journal_k8s.capacity_problems``): an
    autoscaler's ``maxReplicas`` plus the rolling-update surge, times each pod's requests and
    limits (sidecars, init containers and LimitRange defaults included); a failure names the
    quota key, the workloads and the figures.

    Args:
        scope: the parent construct.
        id: the construct id.
        name: the namespace's name (a DNS-1123 label).
        quota: the namespace's totals (its ResourceQuota).
        quota_name: the ResourceQuota's name. Default: ``"journal-quota"``.
        limits_name: the LimitRange's name. Default: ``"journal-limits"``.
        container_defaults: the requests and limits the LimitRange gives a container that
            sets none. Default: ``DEFAULT_CONTAINER_RESOURCES`` (requests 100m and 128Mi,
            limits 500m and 512Mi).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        quota: Quota,
        quota_name: str = "journal-quota",
        limits_name: str = "journal-limits",
        container_defaults: Resources = DEFAULT_CONTAINER_RESOURCES,
    ) -> None:
        super().__init__(scope, id)
        check_dns_label("name", name)
        check_dns_subdomain("quota_name", quota_name)
        check_dns_subdomain("limits_name", limits_name)
        defaults = _pod.requirements(
            check_instance("container_defaults", container_defaults, Resources, container_defaults)
        )
        security = {
            f"{POD_SECURITY_PREFIX}{mode}{suffix}": value
            for mode in ("enforce", "audit", "warn")
            for suffix, value in (("", "restricted"), ("-version", POD_SECURITY_VERSION))
        }
        every_pod = k8s.LabelSelector()
        q = _bulk.quantity
        chart_namespace = _bulk.define(
            self,
            {
                "Resource": k8s.KubeNamespaceProps(
                    metadata=k8s.ObjectMeta(name=name, labels=security)
                ),
                "Quota": k8s.KubeResourceQuotaProps(
                    metadata=k8s.ObjectMeta(name=quota_name, namespace=name),
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
                    metadata=k8s.ObjectMeta(name=limits_name, namespace=name),
                    spec=k8s.LimitRangeSpec(
                        limits=[
                            k8s.LimitRangeItem(
                                type="Container",
                                default_request=defaults.requests,
                                default=defaults.limits,
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
        if chart_namespace is None:
            self.node.add_validation(_WorkloadsHaveANamespace(cdk8s.Chart.of(self), name))


@jsii.implements(IValidation)
class _WorkloadsHaveANamespace:
    """A workload without a namespace, in a chart without one that holds a RestrictedNamespace,
    fails the synth: kubectl would put it in its context's namespace, which the restricted
    check (of the namespaces the app defines) cannot know."""

    def __init__(self, chart: cdk8s.Chart, name: str) -> None:
        self._chart = chart
        self._name = name

    def validate(self) -> list[str]:
        loose = []
        for child in self._chart.node.find_all():
            if isinstance(child, cdk8s.ApiObject) and child.kind in _WORKLOADS:
                manifest = child.to_json()
                if not (manifest.get("metadata") or {}).get("namespace"):
                    loose.append(f"{child.kind} {child.name}")
        return [
            f"{workload} has no namespace, in a chart without one that holds RestrictedNamespace "
            f"{self._name!r}: it is not checked against Pod Security 'restricted' (give the "
            f"chart namespace={self._name!r}, or the workload its namespace)"
            for workload in loose
        ]


_WORKLOADS = frozenset({*TEMPLATE_PATHS, "Pod"})
"""The kinds whose pods the restricted check reads."""
