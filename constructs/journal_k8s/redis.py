"""Redis: a replicated, authenticated, durable Redis StatefulSet with read and write Services."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import cdk8s
from constructs import Construct

from . import _bulk, _network, _pod
from ._types import (
    ExistingSecret,
    Resources,
    Workload,
    check_dns_subdomain,
    check_image,
    check_positive,
    check_quantity,
    check_service_name,
)

DEFAULT_IMAGE = "redis:7.4.2-alpine"
"""A supported Redis 7 on Alpine, pinned; its ``redis`` user is uid 999, gid 1000."""

PORT = 6379
CONFIG_DIR = "/opt/journal-redis"
PASSWORD_DIR = "/etc/redis-passwd"
RUN_DIR = "/run/redis"
DATA_DIR = "/data"
_UID, _GID = 999, 1000
_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany")

REDIS_CONF = f"""\
# Shared by every Redis pod; the launch script adds the password and the replication line.
port {PORT}
bind * -::*
dir {DATA_DIR}
appendonly yes
appendfsync everysec
replica-read-only yes
# Replicas sync as soon as they connect: readiness waits for the link to the master.
repl-diskless-sync-delay 0
"""

PROBE_SH = f"""\
#!/bin/sh
# Health checks for Redis; they authenticate with the mounted password (never on argv).
#   started: the server answers PING (the data set is loaded)
#   alive:   the server answers PING, or is still loading its data set
#   ready:   the master, or a replica whose link to the master is up
REDISCLI_AUTH="$(cat "{PASSWORD_DIR}/$1")"
export REDISCLI_AUTH
case "$2" in
  started|alive)
    reply="$(redis-cli -h 127.0.0.1 -p {PORT} ping 2>&1)" || true
    case "$reply" in
      PONG) exit 0 ;;
      LOADING*) [ "$2" = alive ] && exit 0 ;;
    esac
    echo "PING answered: $reply" >&2
    exit 1
    ;;
  ready)
    info="$(redis-cli -h 127.0.0.1 -p {PORT} info replication 2>&1)" || true
    case "$info" in
      *role:master*|*master_link_status:up*) exit 0 ;;
    esac
    echo "not ready: $info" >&2
    exit 1
    ;;
esac
echo "usage: probe.sh PASSWORD_FILE started|alive|ready" >&2
exit 2
"""


def launch_script(*, master_host: str, password_file: str) -> str:
    """The POSIX sh entry point: pod 0 is the master, every other pod replicates from it."""
    return f"""\
#!/bin/sh
# Starts redis-server as PID 1. Pod 0 is the master; the others replicate from it.
# The password goes from the mounted Secret into a config file on a memory-backed
# volume, so it never appears on a command line.
set -eu
# shellcheck disable=SC3028 # the container runtime sets HOSTNAME to the pod name
ordinal="${{HOSTNAME##*-}}"
password="$(cat "{PASSWORD_DIR}/{password_file}")"
quoted="$(printf '%s' "$password" | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g')"
umask 077
{{
  printf 'include %s\\n' "{CONFIG_DIR}/redis.conf"
  printf 'requirepass "%s"\\n' "$quoted"
  printf 'masterauth "%s"\\n' "$quoted"
  if [ "$ordinal" != 0 ]; then
    printf 'replicaof %s %s\\n' "{master_host}" "{PORT}"
  fi
}} > "{RUN_DIR}/redis.conf"
exec redis-server "{RUN_DIR}/redis.conf"
"""


class Redis(Construct):
    """A Redis StatefulSet: pod 0 is the master, the other pods are read-only replicas.

    Reads go to the read Service (every ready pod), writes to the write Service (pod 0
    only). The password comes from an existing Secret and never reaches a command line,
    the manifests or the snapshots.

    Args:
        scope: the parent construct.
        id: the construct id.
        name: the StatefulSet's name; every object is named after it. A DNS-1123 label of
            at most 52 characters (the StatefulSet limit).
        password: the Secret key holding the password. Default: the book's Secret
            ``redis-passwd``, key ``passwd``, which must exist in the namespace.
        replicas: number of pods; 1 runs a lone master. Default: 3.
        image: the container image. Default: ``DEFAULT_IMAGE``.
        storage: size of each pod's data volume. Default: ``"10Gi"``.
        storage_class: the StorageClass of the data volumes. Default: the cluster's default.
        access_mode: the access mode of the data volumes. Default: ``"ReadWriteOnce"``.
        resources: CPU and memory of each pod (requests equal limits). Default: 500m, 512Mi.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str = "redis",
        password: ExistingSecret | None = None,
        replicas: int = 3,
        image: str = DEFAULT_IMAGE,
        storage: str = "10Gi",
        storage_class: str | None = None,
        access_mode: str = "ReadWriteOnce",
        resources: Resources | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._name = check_service_name("name", name, max_length=52)
        self._replicas = check_positive("replicas", replicas)
        check_quantity("storage", storage)
        if storage_class is not None:
            check_dns_subdomain("storage_class", storage_class)
        if access_mode not in _ACCESS_MODES:
            raise ValueError(
                f"access_mode={access_mode!r} is not allowed: expected one of {_ACCESS_MODES}"
            )
        check_image("image", image)
        self.password = password or ExistingSecret(name="redis-passwd", key="passwd")
        """The Secret key that holds the Redis password."""
        resources = resources or Resources(cpu="500m", memory="512Mi")

        self.headless_service_name = f"{name}-headless"
        """The governing headless Service: it gives every pod a DNS name."""
        self.read_host = name
        """The read Service's host name (every ready pod)."""
        self.write_host = f"{name}-write"
        """The write Service's host name (pod 0, the master, only)."""
        self.port = PORT
        """The Redis port of every Service."""
        self.master_host = f"{name}-0.{self.headless_service_name}"
        """The master's per-pod DNS name, resolvable inside the namespace."""
        self._pod_labels = _pod.selector_labels(name)
        self._allowed: set[str] = set()
        labels = _pod.object_labels(name, "storage")

        files = {
            "launch.sh": launch_script(
                master_host=self.master_host, password_file=self.password.key
            ),
            "probe.sh": PROBE_SH,
            "redis.conf": REDIS_CONF,
        }
        write_selector = {**self._pod_labels, "statefulset.kubernetes.io/pod-name": f"{name}-0"}
        peers = [_network.pods_of(self)]
        _bulk.define(
            self,
            {
                "Config": {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"{name}-config", "labels": labels},
                    "data": files,
                },
                "Headless": self._service(self.headless_service_name, headless=True),
                "ReadService": self._service(self.read_host),
                "WriteService": self._service(self.write_host, write_selector),
                "StatefulSet": {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {
                        "serviceName": self.headless_service_name,
                        "replicas": replicas,
                        "podManagementPolicy": "OrderedReady",
                        "selector": {"matchLabels": self._pod_labels},
                        "template": self._pod_template(
                            image, resources, labels, _pod.content_hash(files)
                        ),
                        "volumeClaimTemplates": [
                            {
                                "metadata": {"name": "data", "labels": labels},
                                "spec": {
                                    "accessModes": [access_mode],
                                    "storageClassName": storage_class,
                                    "resources": {"requests": {"storage": storage}},
                                },
                            }
                        ],
                    },
                },
                "Budget": _pod.disruption_budget(name, "storage"),
                "ReplicationPolicy": _network.allow(
                    direction="Ingress",
                    name=name,
                    pods=self._pod_labels,
                    peers=peers,
                    port=PORT,
                    labels=labels,
                ),
                "ReplicationEgressPolicy": _network.allow(
                    direction="Egress",
                    name=f"{name}-replication",
                    pods=self._pod_labels,
                    peers=peers,
                    port=PORT,
                    labels=labels,
                ),
            },
        )

    @property
    def name(self) -> str:
        """The StatefulSet's name."""
        return self._name

    @property
    def replicas(self) -> int:
        """The number of pods."""
        return self._replicas

    @property
    def pod_labels(self) -> Mapping[str, str]:
        """The labels that select the Redis pods."""
        return MappingProxyType(self._pod_labels)

    @property
    def stateful_set(self) -> cdk8s.ApiObject:
        """The StatefulSet (construct id ``StatefulSet``), for JSON patches."""
        return _bulk.api_object(self, "StatefulSet")

    @property
    def config_map(self) -> cdk8s.ApiObject:
        """The ConfigMap of scripts and redis.conf (construct id ``Config``)."""
        return _bulk.api_object(self, "Config")

    @property
    def headless_service(self) -> cdk8s.ApiObject:
        """The governing headless Service (construct id ``Headless``)."""
        return _bulk.api_object(self, "Headless")

    @property
    def read_service(self) -> cdk8s.ApiObject:
        """The read Service over every ready pod (construct id ``ReadService``)."""
        return _bulk.api_object(self, "ReadService")

    @property
    def write_service(self) -> cdk8s.ApiObject:
        """The write Service to pod 0 (construct id ``WriteService``)."""
        return _bulk.api_object(self, "WriteService")

    def allow_from(self, workload: Workload) -> None:
        """Let ``workload``'s pods reach Redis on its port (both directions of the policy).

        Calling it again for the same workload changes nothing.
        """
        if workload.name in self._allowed:
            return
        self._allowed.add(workload.name)
        labels = _pod.object_labels(self._name, "storage")
        _bulk.define(
            self,
            {
                f"AllowFrom-{workload.name}": _network.allow(
                    direction="Ingress",
                    name=f"{self._name}-from-{workload.name}",
                    pods=self._pod_labels,
                    peers=[_network.pods_of(workload)],
                    port=PORT,
                    labels=labels,
                ),
                f"AllowTo-{workload.name}": _network.allow(
                    direction="Egress",
                    name=f"{workload.name}-to-{self._name}",
                    pods=workload.pod_labels,
                    peers=[_network.pods_of(self)],
                    port=PORT,
                    labels=labels,
                ),
            },
        )

    def _service(
        self, name: str, selector: Mapping[str, str] | None = None, *, headless: bool = False
    ) -> _bulk.Manifest:
        return _pod.service(
            name=name,
            labels=_pod.object_labels(self._name, "storage"),
            selector=self._pod_labels if selector is None else selector,
            port_name="redis",
            port_number=PORT,
            headless=headless,
        )

    def _pod_template(
        self, image: str, resources: Resources, labels: Mapping[str, str], config_hash: str
    ) -> dict[str, Any]:
        def probe(mode: str, *, period: int, failures: int) -> dict[str, Any]:
            return {
                "exec": {"command": ["/bin/sh", f"{CONFIG_DIR}/probe.sh", self.password.key, mode]},
                "periodSeconds": period,
                "timeoutSeconds": 3,
                "failureThreshold": failures,
            }

        return {
            "metadata": {
                "labels": dict(labels),
                "annotations": {_pod.CONFIG_HASH_ANNOTATION: config_hash},
            },
            "spec": _pod.pod_spec(
                self._name,
                uid=_UID,
                gid=_GID,
                containers=[
                    {
                        "name": "redis",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["/bin/sh", f"{CONFIG_DIR}/launch.sh"],
                        "ports": [{"name": "redis", "containerPort": PORT, "protocol": "TCP"}],
                        "resources": _pod.guaranteed(resources),
                        "securityContext": _pod.container_security(),
                        "startupProbe": probe("started", period=5, failures=120),
                        "livenessProbe": probe("alive", period=10, failures=6),
                        "readinessProbe": probe("ready", period=5, failures=2),
                        "volumeMounts": [
                            {"name": "data", "mountPath": DATA_DIR},
                            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                            {"name": "password", "mountPath": PASSWORD_DIR, "readOnly": True},
                            {"name": "run", "mountPath": RUN_DIR},
                        ],
                    }
                ],
                volumes=[
                    {
                        "name": "config",
                        "configMap": {
                            "name": f"{self._name}-config",
                            "defaultMode": 0o444,
                            "items": [
                                {"key": "launch.sh", "path": "launch.sh", "mode": 0o555},
                                {"key": "probe.sh", "path": "probe.sh", "mode": 0o555},
                                {"key": "redis.conf", "path": "redis.conf"},
                            ],
                        },
                    },
                    {
                        "name": "password",
                        "secret": {
                            "secretName": self.password.name,
                            "defaultMode": 0o440,
                            "items": [{"key": self.password.key, "path": self.password.key}],
                        },
                    },
                    {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
                ],
            ),
        }
