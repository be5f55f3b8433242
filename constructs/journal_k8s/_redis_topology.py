"""How a ``Redis``'s pods find their master: one interface (``Topology``) for both modes.

``_redis_fixed.FixedMaster`` keeps pod 0 the master for ever; ``_redis_failover.SentinelProxy``
lets Redis Sentinel choose it and puts HAProxy pods behind the write Service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from . import _bulk
from ._kplus import k8s
from ._network import Pods
from ._peers import SelectablePods
from ._types import ExistingSecret, Metrics

PORT = 6379
CONFIG_QUOTED = r"""quoted="$(printf '%s' "$password" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
"""
"""POSIX sh: ``$quoted``, the text of ``$password`` for a Redis config file's double quotes
(``"`` and ``\\`` escaped)."""
CONFIG_DIR = "/opt/journal-redis"
PASSWORD_DIR = "/etc/redis-passwd"
RUN_DIR = "/run/redis"
DATA_DIR = "/data"
DATA_VOLUME = "data"
"""The volume of each pod's claim template, mounted at ``DATA_DIR``."""

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


def probe_script(*, seen: str = "exit 0") -> str:
    """Redis's probes; ``seen`` (sh) decides once the server is ready by itself."""
    return f"""\
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
      *role:master*|*master_link_status:up*) {seen} ;;
    esac
    echo "not ready: $info" >&2
    exit 1
    ;;
esac
echo "usage: probe.sh PASSWORD_FILE started|alive|ready" >&2
exit 2
"""


@dataclass(frozen=True)
class RedisPods:
    """What a topology knows of its ``Redis``: the StatefulSet's name, size, image, password,
    and its metrics settings (``None``: no exporters)."""

    owner: SelectablePods
    replicas: int
    image: str
    password: ExistingSecret
    metrics: Metrics | None = None

    @property
    def name(self) -> str:
        """The StatefulSet's name."""
        return self.owner.name

    @property
    def headless(self) -> str:
        """The governing headless Service's name."""
        return f"{self.name}-headless"

    @property
    def password_path(self) -> str:
        """The password file inside every Redis container."""
        return f"{PASSWORD_DIR}/{self.password.key}"


class Topology(Protocol):
    """One mode of a ``Redis``: its files, extra containers and objects, and write pods."""

    memory_volumes: tuple[str, ...]
    """Memory-backed volumes of the Redis pods beside ``run``."""

    def files(self) -> dict[str, str]:
        """The ConfigMap's files (``*.sh`` are mounted executable), in mount order."""
        ...

    def write_selector(self) -> dict[str, str]:
        """The labels of the pods behind the write Service."""
        ...

    def sidecars(self) -> list[k8s.Container]:
        """Containers beside redis-server in every Redis pod."""
        ...

    def objects(self) -> dict[str, _bulk.Body]:
        """The mode's own API objects, by construct id."""
        ...

    def fronts(self) -> list[tuple[str, Pods]]:
        """Pods a Redis client also connects to, each with its policies' construct id prefix."""
        ...

    def stopping(self) -> tuple[k8s.Lifecycle | None, int | None]:
        """redis-server's lifecycle hooks and the pods' ``terminationGracePeriodSeconds``
        (``None``: none, and Kubernetes' default of 30 s)."""
        ...

    def dns_config(self) -> k8s.PodDnsConfig | None:
        """The Redis pods' resolver settings (``None``: the cluster's)."""
        ...
