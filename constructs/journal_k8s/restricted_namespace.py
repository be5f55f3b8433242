"""RestrictedNamespace: a namespace with its guard rails, for the tiers that run in it."""

from __future__ import annotations

from constructs import Construct

from . import _bulk, _network
from ._types import Quota, check_dns_label

POD_SECURITY_VERSION = "v1.27"
"""The Pod Security Standards version the namespace pins (the API version of the library)."""


class RestrictedNamespace(Construct):
    """A Namespace enforcing Pod Security ``restricted``, with quota, limits and default deny.

    Every pod of the namespace is denied all traffic but DNS until a NetworkPolicy (such as
    those of the journal constructs) lets it through. Containers without resources get the
    LimitRange defaults (requests 100m/128Mi, limits 500m/512Mi).

    Args:
        scope: the parent construct.
        id: the construct id.
        name: the namespace's name (a DNS-1123 label).
        quota: the namespace's totals (its ResourceQuota ``journal-quota``).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, quota: Quota) -> None:
        super().__init__(scope, id)
        check_dns_label("name", name)
        metadata = {"namespace": name}
        security = {
            f"pod-security.kubernetes.io/{mode}{suffix}": value
            for mode in ("enforce", "audit", "warn")
            for suffix, value in (("", "restricted"), ("-version", POD_SECURITY_VERSION))
        }
        every_pod: dict[str, object] = {}
        _bulk.define(
            self,
            {
                "Resource": {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name, "labels": security},
                },
                "Quota": {
                    "apiVersion": "v1",
                    "kind": "ResourceQuota",
                    "metadata": {"name": "journal-quota", **metadata},
                    "spec": {
                        "hard": {
                            "requests.cpu": quota.cpu,
                            "limits.cpu": quota.cpu,
                            "requests.memory": quota.memory,
                            "limits.memory": quota.memory,
                            "requests.storage": quota.storage,
                            "pods": quota.pods,
                        }
                    },
                },
                "Limits": {
                    "apiVersion": "v1",
                    "kind": "LimitRange",
                    "metadata": {"name": "journal-limits", **metadata},
                    "spec": {
                        "limits": [
                            {
                                "type": "Container",
                                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                                "default": {"cpu": "500m", "memory": "512Mi"},
                            }
                        ]
                    },
                },
                "DefaultDeny": {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": "default-deny", **metadata},
                    "spec": {"podSelector": every_pod, "policyTypes": ["Ingress", "Egress"]},
                },
                "AllowDns": {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": "allow-dns", **metadata},
                    "spec": {
                        "podSelector": every_pod,
                        "policyTypes": ["Egress"],
                        "egress": [_network.dns()],
                    },
                },
            },
            # A Namespace is cluster-scoped: drop the namespace the chart gives every object.
            [("Resource", {"op": "remove", "path": "/metadata/namespace"})],
        )
