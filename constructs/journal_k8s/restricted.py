"""The Pod Security ``restricted`` settings of the journal's pods, for any workload to adopt."""

from __future__ import annotations

import cdk8s

from . import _bulk
from ._kplus import kplus
from ._pod import restricted_container_security, restricted_pod_security
from .rules import TEMPLATE_PATHS

_POD_SPECS: tuple[tuple[type[kplus.AbstractPod], str], ...] = (
    (kplus.Pod, "/spec"),
    *(
        (getattr(kplus, kind), "/" + "/".join((*path, "spec")))
        for kind, path in TEMPLATE_PATHS.items()
        if hasattr(kplus, kind)  # cdk8s-plus has no ReplicaSet
    ),
)
"""Where each cdk8s-plus workload kind keeps its pod spec (JSON pointers)."""
_NOT_IN_KPLUS = ("capabilities", "seccompProfile")
"""The fields of ``restricted_container_security`` that a cdk8s-plus container cannot set."""


def adopt_restricted(workload: kplus.AbstractPod, *, uid: int, gid: int | None = None) -> None:
    """Give a cdk8s-plus workload the journal's ``restricted`` pod and container settings.

    cdk8s-plus-27 sets no seccomp profile and drops no capabilities, so Pod Security
    admission refuses its pods in a ``restricted`` namespace. This adds, to the workload's
    pod template, ``restricted_pod_security(uid=uid, gid=gid)`` and, to each container
    added so far, what cdk8s-plus cannot express: ``capabilities: {drop: [ALL]}`` and the
    ``RuntimeDefault`` seccomp profile. Each container keeps the rest of its own security
    context (cdk8s-plus's defaults are ``restricted``; a user or a writable root filesystem
    given there stays, and a setting ``restricted`` forbids fails the synth, naming it).
    Call it after adding the containers.

    Args:
        workload: a kplus ``Deployment``, ``StatefulSet``, ``DaemonSet``, ``Job``,
            ``CronJob`` or ``Pod``.
        uid: the user the containers run as (not 0).
        gid: their group and the volumes' ``fsGroup``. Default: ``uid``.

    Raises:
        TypeError: ``workload`` is none of those kinds.
        ValueError: ``uid`` is 0 or not a user id.
    """
    template = next((spec for kind, spec in _POD_SPECS if isinstance(workload, kind)), None)
    if template is None:
        kinds = ", ".join(f"kplus.{kind.__name__}" for kind, _ in _POD_SPECS)
        raise TypeError(f"workload={workload!r} is not allowed: expected one of {kinds}")
    if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
        raise ValueError(f"uid={uid!r} is not allowed: expected a non-root user id (> 0)")
    api_object = cdk8s.ApiObject.of(workload)
    pod = restricted_pod_security(uid=uid, gid=uid if gid is None else gid)
    restricted = _bulk.jsii_json(restricted_container_security())
    added = {field: restricted[field] for field in _NOT_IN_KPLUS}
    # Patches on kplus's typed objects use the jsii (camelCase) names, which these share.
    api_object.add_json_patch(
        cdk8s.JsonPatch.add(f"{template}/securityContext", _bulk.jsii_json(pod))
    )
    for field, containers in (
        ("containers", workload.containers),
        ("initContainers", workload.init_containers),
    ):
        for index in range(len(containers)):
            # cdk8s-plus renders every container's securityContext.
            context = f"{template}/{field}/{index}/securityContext"
            for name, value in added.items():
                api_object.add_json_patch(cdk8s.JsonPatch.add(f"{context}/{name}", value))
