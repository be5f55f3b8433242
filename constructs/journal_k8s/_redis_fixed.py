"""The fixed-master mode of ``Redis``: pod 0 is the master for ever; writes go to it."""

from __future__ import annotations

from . import _bulk
from ._kplus import k8s
from ._network import Pods
from ._redis_topology import (
    CONFIG_DIR,
    CONFIG_QUOTED,
    PASSWORD_DIR,
    PORT,
    REDIS_CONF,
    RUN_DIR,
    RedisPods,
    probe_script,
)


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
{CONFIG_QUOTED}umask 077
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


class FixedMaster:
    """Pod 0 is the master for ever; the write Service selects it.

    Args:
        pods: the Redis's pods.
    """

    memory_volumes: tuple[str, ...] = ()

    def __init__(self, pods: RedisPods) -> None:
        self._pods = pods

    def files(self) -> dict[str, str]:
        """The launch script, the probes and redis.conf."""
        return {
            "launch.sh": launch_script(
                master_host=f"{self._pods.name}-0.{self._pods.headless}",
                password_file=self._pods.password.key,
            ),
            "probe.sh": probe_script(),
            "redis.conf": REDIS_CONF,
        }

    def write_selector(self) -> dict[str, str]:
        """Pod 0's labels."""
        return {
            **self._pods.owner.pod_labels,
            "statefulset.kubernetes.io/pod-name": f"{self._pods.name}-0",
        }

    def sidecars(self) -> list[k8s.Container]:
        """None."""
        return []

    def objects(self) -> dict[str, _bulk.Body]:
        """None."""
        return {}

    def fronts(self) -> list[tuple[str, Pods]]:
        """None: clients connect to the Redis pods only."""
        return []

    def stopping(self) -> tuple[k8s.Lifecycle | None, int | None]:
        """No hook, Kubernetes' grace period: a stopped pod just stops."""
        return None, None

    def dns_config(self) -> k8s.PodDnsConfig | None:
        """The cluster's resolver settings."""
        return None
