"""Redis Sentinel beside every Redis server: the scripts of ``Redis(failover=...)``.

Each pod runs redis-server and redis-sentinel. Both ask the *other* pods' sentinels who the
master is before they start (a restarting pod never starts as a master while another one is
known); pod 0 bootstraps as the master only when no other sentinel answers. Passwords go from
the mounted Secret into config files on memory-backed volumes, never argv.
"""

from __future__ import annotations

from collections.abc import Sequence

SENTINEL_PORT = 26379
SENTINEL_DIR = "/run/sentinel"


def _ask_sentinels(master_set: str, peers: Sequence[str]) -> str:
    """POSIX sh: ``ask_sentinels`` sets ``master`` to the master's host as the first other
    pod's sentinel that knows one names it (empty if none does), and ``flags`` to every
    flag those sentinels give it. It needs ``self`` and ``REDISCLI_AUTH``."""
    return f"""\
# Sets master to the master's host as the first other pod's sentinel that knows one names
# it (empty if none does), and flags to the flags (s_down, o_down, ...) they all give it.
ask_sentinels() {{
  master=""
  flags=""
  for peer in {" ".join(peers)}; do
    [ "$peer" = "$self" ] && continue
    reply="$(timeout 3 redis-cli --raw -h "$peer" -p {SENTINEL_PORT} \\
      sentinel master {master_set} 2>/dev/null)" || continue
    host="$(printf '%s\\n' "$reply" | sed -n '/^ip$/{{n;p;q;}}')"
    port="$(printf '%s\\n' "$reply" | sed -n '/^port$/{{n;p;q;}}')"
    if [ -n "$host" ] && [ "$port" = 6379 ]; then
      [ -z "$master" ] && master="$host"
      flags="$flags,$(printf '%s\\n' "$reply" | sed -n '/^flags$/{{n;p;q;}}')"
    fi
  done
}}
"""


_PASSWORD = """\
password="$(cat "{password_path}")"
quoted="$(printf '%s' "$password" | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g')"
REDISCLI_AUTH="$password"
export REDISCLI_AUTH
"""


def redis_launch_script(
    *,
    master_set: str,
    peers: Sequence[str],
    domain: str,
    password_path: str,
    config_dir: str,
    run_dir: str,
    failover_timeout_ms: int,
) -> str:
    """redis-server's entry point: replicate from the master the sentinels name."""
    max_wait = 2 * failover_timeout_ms // 1000
    return f"""\
#!/bin/sh
# Starts redis-server as PID 1, as a replica of the master that the other pods' sentinels
# name; pod 0 starts as the master only when none of them knows one. The password goes from
# the mounted Secret into a config file on a memory-backed volume, never a command line.
set -eu
# shellcheck disable=SC3028 # the container runtime sets HOSTNAME to the pod name
self="$HOSTNAME.{domain}"
{_PASSWORD.format(password_path=password_path)}
{_ask_sentinels(master_set, peers)}
# A master that comes back while the sentinels are failing over from it waits for their
# verdict (at most {max_wait} s) instead of taking writes that the failover would discard.
waited=0
ask_sentinels
while [ "$master" = "$self" ] && [ "$waited" -lt {max_wait} ]; do
  case "$flags" in
    *o_down*|*failover_in_progress*) ;;
    *) break ;;
  esac
  echo "the sentinels are failing over from this pod ($flags): waiting" >&2
  sleep 2
  waited=$((waited + 2))
  ask_sentinels
done
if [ -z "$master" ]; then
  master="{peers[0]}"
fi
echo "master: $master" >&2
umask 077
{{
  printf 'include %s\\n' "{config_dir}/redis.conf"
  printf 'requirepass "%s"\\n' "$quoted"
  printf 'masterauth "%s"\\n' "$quoted"
  printf 'replica-announce-ip %s\\n' "$self"
  if [ "$master" != "$self" ]; then
    printf 'replicaof %s %s\\n' "$master" 6379
  fi
}} > "{run_dir}/redis.conf"
unset REDISCLI_AUTH
exec redis-server "{run_dir}/redis.conf"
"""


def sentinel_launch_script(
    *,
    master_set: str,
    peers: Sequence[str],
    domain: str,
    password_path: str,
    quorum: int,
    down_after_ms: int,
    failover_timeout_ms: int,
) -> str:
    """redis-sentinel's entry point: monitor the master the other sentinels name."""
    return f"""\
#!/bin/sh
# Starts redis-sentinel as PID 1, monitoring the master the other pods' sentinels name (pod
# 0 when none answers). It announces the pod's DNS name, so failover follows the StatefulSet's
# stable names, not pod addresses. Its config (with the password) is on a memory volume.
set -eu
# shellcheck disable=SC3028 # the container runtime sets HOSTNAME to the pod name
self="$HOSTNAME.{domain}"
{_PASSWORD.format(password_path=password_path)}
{_ask_sentinels(master_set, peers)}
ask_sentinels
if [ -z "$master" ]; then
  master="{peers[0]}"
fi
echo "monitoring: $master" >&2
umask 077
{{
  printf 'port {SENTINEL_PORT}\\n'
  printf 'dir {SENTINEL_DIR}\\n'
  printf 'sentinel resolve-hostnames yes\\n'
  printf 'sentinel announce-hostnames yes\\n'
  printf 'sentinel announce-ip %s\\n' "$self"
  printf 'requirepass "%s"\\n' "$quoted"
  printf 'sentinel sentinel-pass "%s"\\n' "$quoted"
  printf 'sentinel monitor {master_set} %s 6379 {quorum}\\n' "$master"
  printf 'sentinel auth-pass {master_set} "%s"\\n' "$quoted"
  printf 'sentinel down-after-milliseconds {master_set} {down_after_ms}\\n'
  printf 'sentinel failover-timeout {master_set} {failover_timeout_ms}\\n'
  printf 'sentinel parallel-syncs {master_set} 1\\n'
}} > "{SENTINEL_DIR}/sentinel.conf"
unset REDISCLI_AUTH
exec redis-sentinel "{SENTINEL_DIR}/sentinel.conf"
"""


def sentinel_probe_script(*, master_set: str, password_dir: str) -> str:
    """The sentinel container's probes: it answers, and it monitors a master."""
    return f"""\
#!/bin/sh
# Health checks for the sentinel; they authenticate with the mounted password.
#   alive: the sentinel answers PING
#   ready: it monitors a master (it knows the master's address)
REDISCLI_AUTH="$(cat "{password_dir}/$1")"
export REDISCLI_AUTH
case "$2" in
  alive)
    reply="$(redis-cli -h 127.0.0.1 -p {SENTINEL_PORT} ping 2>&1)" || true
    [ "$reply" = PONG ] && exit 0
    echo "PING answered: $reply" >&2
    exit 1
    ;;
  ready)
    reply="$(redis-cli --raw -h 127.0.0.1 -p {SENTINEL_PORT} \\
      sentinel get-master-addr-by-name {master_set} 2>&1)" || true
    [ "$(printf '%s\\n' "$reply" | sed -n 2p)" = 6379 ] && exit 0
    echo "no master: $reply" >&2
    exit 1
    ;;
esac
echo "usage: sentinel-probe.sh PASSWORD_FILE alive|ready" >&2
exit 2
"""


def redis_conf(base: str, *, min_replicas_to_write: int, min_replicas_max_lag: int) -> str:
    """``base`` (the shared redis.conf) with the failover mode's settings."""
    return (
        base
        + f"""\
# Failover: a master refuses writes unless this many replicas lag at most this many seconds.
min-replicas-to-write {min_replicas_to_write}
min-replicas-max-lag {min_replicas_max_lag}
"""
    )
