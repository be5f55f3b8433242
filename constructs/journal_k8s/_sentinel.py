"""Redis Sentinel beside every Redis server: the scripts of ``Redis(failover=...)``.

Each pod runs redis-server and redis-sentinel. Both ask the *other* pods' sentinels who the
master is before they start. A pod that the sentinels still name as the master (it restarted
before they failed over) starts refusing writes until a quorum of them confirms it; pod 0
bootstraps as the master only when no other pod exists. A master being stopped hands over
first (``stop.sh``, the preStop hook). Passwords go from the mounted Secret into config files
on memory-backed volumes, never argv.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._redis_topology import CONFIG_QUOTED, PORT

SENTINEL_PORT = 26379
SENTINEL_DIR = "/run/sentinel"
SHUTDOWN_MARGIN_S = 10
"""Seconds of the grace period left to redis-server's own shutdown after the hand-over."""
PAUSED_PING_PERIOD_S = 3600
"""The ``repl-ping-replica-period`` of a master handing over: no PING moves its replication
offset while its writes are paused (at most the grace period)."""
CONFIRM_S = 3
"""Seconds a restarted pod that the sentinels still name waits for their confirmation before
it asks them to fail over."""
LINK_RECONNECT_MS = 3000
"""How long a sentinel keeps a link that gets no reply before it looks the name up again and
reconnects (Sentinel's ``min-link-reconnect-period``, 15 s by default): a pod recreated with
a new address is seen again after about this long, not 15 s."""
RESOLVER_TIMEOUT_S = 1
"""The pods' DNS resolver timeout (``options timeout``; 5 s by default). Sentinel looks names
up synchronously: a lookup blocked for more than 2 s puts it in TILT mode, where it takes no
action (no failover) for 30 s."""


@dataclass(frozen=True)
class Scripts:
    """What every script of the failover mode is written for.

    Args:
        master_set: the name the sentinels monitor the master by (the StatefulSet's).
        peers: every pod's DNS name, pod 0 first.
        domain: the governing Service's name (a pod's name is ``$HOSTNAME.<domain>``).
        password_path: the mounted password file.
        quorum: the sentinels' quorum.
    """

    master_set: str
    peers: Sequence[str]
    domain: str
    password_path: str
    quorum: int

    @property
    def fence(self) -> int:
        """``min-replicas-to-write`` of a fenced pod: more replicas than it can have."""
        return len(self.peers)


def handover_s(failover_timeout_ms: int) -> int:
    """How long a master being stopped waits for another pod to take over: one
    ``failover-timeout`` (after which Sentinel abandons a failover), in whole seconds."""
    return -(-failover_timeout_ms // 1000)


def grace_period_s(failover_timeout_ms: int) -> int:
    """The Redis pods' ``terminationGracePeriodSeconds``: the hand-over, then the shutdown."""
    return handover_s(failover_timeout_ms) + SHUTDOWN_MARGIN_S


def _view(master_set: str) -> str:
    """POSIX sh: ``view HOST`` prints ``ip flags last-ok-ping-reply`` of the master that the
    sentinel on HOST monitors (nothing if it does not answer within 2 s)."""
    return f"""\
# Prints "ip flags last-ok-ping-reply" of the master that the sentinel on $1 monitors.
view() {{
  timeout 2 redis-cli --raw -h "$1" -p {SENTINEL_PORT} sentinel master {master_set} 2>/dev/null \\
    | awk 'NR % 2 {{ key = $0; next }} {{ v[key] = $0 }}
      END {{ if (v["port"] == {PORT}) print v["ip"], v["flags"], v["last-ok-ping-reply"] }}'
}}
"""


def _ask_sentinels(peers: Sequence[str]) -> str:
    """POSIX sh: ``ask_sentinels`` asks every other pod's sentinel who the master is. It
    needs ``self``, ``REDISCLI_AUTH`` and ``view``."""
    return f"""\
# Sets master to the host most of the other pods' sentinels name as the master (empty if
# none answers), votes to how many name it, answered to how many answered, and flags to the
# flags (s_down, o_down, ...) they give their masters. The sentinel leading a failover is
# not counted: it names the old master until every replica follows the new one (up to
# failover-timeout when one cannot), while the others name the new one once it is promoted.
ask_sentinels() {{
  names=""
  flags=""
  answered=0
  for peer in {" ".join(peers)}; do
    [ "$peer" = "$self" ] && continue
    answer="$(view "$peer")"
    [ -n "$answer" ] || continue
    rest="${{answer#* }}"
    case "${{rest%% *}}" in *failover_in_progress*) continue ;; esac
    answered=$((answered + 1))
    names="$names${{answer%% *}}
"
    flags="$flags,${{rest%% *}}"
  done
  master="$(printf '%s' "$names" | sort | uniq -c | sort -rn | awk 'NR == 1 {{ print $2 }}')"
  # shellcheck disable=SC2034 # votes is for the scripts that weigh the answer
  votes="$(printf '%s' "$names" | grep -cxF "$master")" || true
}}
"""


def _running_master(scripts: Scripts) -> str:
    """POSIX sh: ``running_master`` finds the master that runs when no sentinel answers. It
    needs ``self`` and ``REDISCLI_AUTH``."""
    return f"""\
# Sets running to the pod whose Redis reports role:master with the most connected replicas
# (at least one) and no fence (min-replicas-to-write {scripts.fence}); empty if none does.
running_master() {{
  running=""
  most=0
  for peer in {" ".join(scripts.peers)}; do
    host="$peer"
    [ "$peer" = "$self" ] && host=127.0.0.1
    info="$(timeout 2 redis-cli -h "$host" -p {PORT} info replication 2>/dev/null | tr -d '\\r')"
    printf '%s\\n' "$info" | grep -qx role:master || continue
    fence="$(timeout 2 redis-cli --raw -h "$host" -p {PORT} config get min-replicas-to-write \\
      2>/dev/null | sed -n 2p)"
    [ "$fence" = {scripts.fence} ] && continue
    replicas="$(printf '%s\\n' "$info" | sed -n 's/^connected_slaves://p')"
    if [ "${{replicas:-0}}" -gt "$most" ]; then
      running="$peer"
      most="$replicas"
    fi
  done
}}
"""


def _request_failover(master_set: str, peers: Sequence[str]) -> str:
    """POSIX sh: ``request_failover`` asks the other pods' sentinels, one after the other,
    for ``SENTINEL FAILOVER`` until one takes it; ``requested`` is then its pod (empty if
    none did). It needs ``self`` and ``REDISCLI_AUTH``."""
    return f"""\
# Asks another pod's sentinel to fail over (now, whatever the master's health), one in TILT
# mode (which would take the request and not act for up to 30 s) only if no other takes it;
# sets requested to the pod whose sentinel took the request (empty if none did).
request_failover() {{
  requested=""
  for pass in first last; do
    for peer in {" ".join(peers)}; do
      [ "$peer" = "$self" ] && continue
      if [ "$pass" = first ] && timeout 2 redis-cli -h "$peer" -p {SENTINEL_PORT} info sentinel \\
        2>/dev/null | tr -d '\\r' | grep -qx 'sentinel_tilt:1'; then
        echo "the sentinel of $peer is in TILT mode" >&2
        continue
      fi
      reply="$(timeout 2 redis-cli -h "$peer" -p {SENTINEL_PORT} \\
        sentinel failover {master_set} 2>&1)"
      case "$reply" in
        OK|INPROG*) requested="$peer"; return ;;
      esac
      echo "the sentinel of $peer answered: $reply" >&2
    done
  done
}}
"""


def _password(password_path: str, *, quoted: bool = True) -> str:
    """POSIX sh: ``REDISCLI_AUTH`` from the mounted Secret, and ``quoted`` for a config
    file's double quotes."""
    return f"""\
password="$(cat "{password_path}")"
{CONFIG_QUOTED if quoted else ""}REDISCLI_AUTH="$password"
export REDISCLI_AUTH
"""


def _context(scripts: Scripts, *, quoted: bool = True) -> str:
    """The lines a Redis or Sentinel script starts with: the pod's own name, the password and
    the sentinels' view of the master."""
    return f"""\
# shellcheck disable=SC3028 # the container runtime sets HOSTNAME to the pod name
self="$HOSTNAME.{scripts.domain}"
{_password(scripts.password_path, quoted=quoted)}
{_view(scripts.master_set)}"""


def redis_launch_script(
    scripts: Scripts, *, config_dir: str, run_dir: str, min_replicas_to_write: int
) -> str:
    """redis-server's entry point: replicate from the master the sentinels name."""
    master_set, peers, quorum = scripts.master_set, scripts.peers, scripts.quorum
    fence = scripts.fence
    return f"""\
#!/bin/sh
# Starts redis-server as PID 1, as a replica of the master that the other pods' sentinels
# name. A pod they still name as the master, or any pod while no sentinel answers and other
# pods exist, starts refusing writes until a quorum of them confirms it (or names another
# pod, which it then replicates from). Pod 0 starts as the master only when no sentinel
# names one and no other pod exists (their names do not resolve). The password goes from
# the mounted Secret into a config file on a memory-backed volume, never a command line.
set -eu
{_context(scripts)}
{_ask_sentinels(peers)}
# True while another pod of the StatefulSet exists (its name resolves).
others_exist() {{
  for peer in {" ".join(peers)}; do
    [ "$peer" != "$self" ] && getent hosts "$peer" > /dev/null && return 0
  done
  return 1
}}

{_request_failover(master_set, peers)}
# The sentinels named this pod (or none answered) when it started: writes stay refused
# (min-replicas-to-write
# above the number of replicas) until a quorum of sentinels name it, with no failover under
# way, and have had a reply from this very process; or until they name another pod. If
# they have not confirmed it after {CONFIRM_S} s (their links to the pod's old address can
# hang for 15 s), it asks them to fail over to a replica, again every {CONFIRM_S * 4} s.
confirm() {{
  started="$(date +%s)"
  asked=0
  while sleep 1; do
    seen=0
    for peer in {" ".join(peers)}; do
      host="$peer"
      [ "$peer" = "$self" ] && host=127.0.0.1
      answer="$(view "$host")"
      rest="${{answer#* }}"
      if [ -n "$answer" ] && [ "${{answer%% *}} ${{rest%% *}}" = "$self master" ] \\
        && [ "${{rest#* }}" -lt 1000 ] && [ $(($(date +%s) - started)) -ge 2 ]; then
        seen=$((seen + 1))
      fi
    done
    if [ "$seen" -ge {quorum} ]; then
      echo "$seen sentinels confirm this pod as the master: taking writes" >&2
      break
    fi
    ask_sentinels
    if [ -n "$master" ] && [ "$master" != "$self" ] && [ "$votes" -ge {quorum - 1} ]; then
      echo "the sentinels name $master: replicating from it" >&2
      redis-cli -p {PORT} replicaof "$master" {PORT} > /dev/null || continue
      break
    fi
    now="$(date +%s)"
    if [ $((now - started)) -ge {CONFIRM_S} ] && [ $((now - asked)) -ge {CONFIRM_S * 4} ]; then
      asked="$now"
      request_failover
      echo "not confirmed after $((now - started)) s: failover asked of ${{requested:-none}}" >&2
    fi
  done
  redis-cli -p {PORT} config set min-replicas-to-write {min_replicas_to_write} > /dev/null
}}

ask_sentinels
fenced=""
if [ -z "$master" ] && others_exist; then
  master="$self"
  fenced=yes
  echo "no sentinel answers while other pods exist: writes refused until a quorum decides" >&2
elif [ -z "$master" ]; then
  master="{peers[0]}"
elif [ "$master" = "$self" ]; then
  fenced=yes
  echo "the sentinels still name this pod ($flags): writes refused until a quorum confirms" >&2
fi
echo "master: $master" >&2
umask 077
{{
  printf 'include %s\\n' "{config_dir}/redis.conf"
  printf 'requirepass "%s"\\n' "$quoted"
  printf 'masterauth "%s"\\n' "$quoted"
  printf 'replica-announce-ip %s\\n' "$self"
  if [ "$master" != "$self" ]; then
    printf 'replicaof %s %s\\n' "$master" {PORT}
  fi
  if [ -n "$fenced" ]; then
    printf 'min-replicas-to-write %s\\n' {fence}
  fi
}} > "{run_dir}/redis.conf"
if [ -n "$fenced" ]; then
  confirm &
fi
unset REDISCLI_AUTH
exec redis-server "{run_dir}/redis.conf"
"""


def redis_stop_script(scripts: Scripts, *, failover_timeout_ms: int) -> str:
    """redis-server's preStop hook: a master hands over, a replica catches up."""
    master_set, peers, quorum = scripts.master_set, scripts.peers, scripts.quorum
    wait = handover_s(failover_timeout_ms)
    return f"""\
#!/bin/sh
# The preStop hook of redis-server, run before it gets SIGTERM (within the grace period).
# A master hands over: it pauses writes, waits until its replicas have every write, asks
# another pod's sentinel to fail over and waits (at most {wait} s) until the sentinels
# name another pod as the master and that pod has every write; then it replicates from it,
# so that clients paused on it get READONLY and reconnect. A replica waits (at most 2 s)
# until it has every write of its master, which a master being stopped too has paused.
set -u
{_context(scripts, quoted=False)}
{_ask_sentinels(peers)}
{_request_failover(master_set, peers)}
deadline=$(($(date +%s) + {wait}))
value() {{
  printf '%s\\n' "$info" | sed -n "s/^$1://p"
}}
info="$(redis-cli -p {PORT} info replication | tr -d '\\r')"

if [ "$(value role)" = slave ]; then
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    [ "$(value master_link_status)" = up ] || exit 0
    theirs="$(timeout 1 redis-cli -h "$(value master_host)" -p {PORT} info replication \\
      | tr -d '\\r' | sed -n 's/^master_repl_offset://p')"
    [ "$(value slave_repl_offset)" = "$theirs" ] && exit 0
    sleep 0.1
    info="$(redis-cli -p {PORT} info replication | tr -d '\\r')"
  done
  exit 0
fi
[ "$(value role)" = master ] && [ "$(value connected_slaves)" -gt 0 ] || exit 0

# A paused master still sends its replicas a PING every repl-ping-replica-period, which
# moves its replication offset on: past the new master's, the old one could only rejoin by a
# full resync (whose AOF rewrite makes it refuse SIGTERM). None is sent during the hand-over.
redis-cli -p {PORT} config set repl-ping-replica-period {PAUSED_PING_PERIOD_S} > /dev/null
redis-cli -p {PORT} client pause {(wait + SHUTDOWN_MARGIN_S) * 1000} write > /dev/null
info="$(redis-cli -p {PORT} info replication | tr -d '\\r')"
offset="$(value master_repl_offset)"
# A replica with at least this offset has every write.
while [ "$(date +%s)" -lt "$deadline" ]; do
  behind="$(printf '%s\\n' "$info" | sed -n 's/^slave[0-9]*:.*,offset=\\([0-9]*\\),.*/\\1/p' \\
    | awk -v offset="$offset" '$1 < offset {{ n++ }} END {{ print n + 0 }}')"
  [ "$behind" = 0 ] && break
  sleep 0.1
  info="$(redis-cli -p {PORT} info replication | tr -d '\\r')"
done
echo "writes paused at offset $offset ($behind replicas behind it); asking for a failover" >&2
request_failover
if [ -z "$requested" ]; then
  echo "no sentinel fails over: stopping as the master" >&2
  exit 0
fi
while [ "$(date +%s)" -lt "$deadline" ]; do
  ask_sentinels
  if [ -n "$master" ] && [ "$master" != "$self" ] && [ "$votes" = "$answered" ] \\
    && [ "$votes" -ge {max(1, quorum - 1)} ]; then
    theirs="$(timeout 1 redis-cli -h "$master" -p {PORT} info replication | tr -d '\\r')"
    if printf '%s\\n' "$theirs" | grep -qx role:master \\
      && [ "$(printf '%s\\n' "$theirs" | sed -n 's/^master_repl_offset://p')" -ge "$offset" ]; then
      redis-cli -p {PORT} replicaof "$master" {PORT} > /dev/null
      redis-cli -p {PORT} client unpause > /dev/null
      echo "handed over to $master" >&2
      exit 0
    fi
  fi
  sleep 0.2
done
echo "no other pod took over within {wait} s: stopping as the master" >&2
exit 0
"""


def sentinel_launch_script(
    scripts: Scripts, *, down_after_ms: int, failover_timeout_ms: int
) -> str:
    """redis-sentinel's entry point: monitor the master the other sentinels name."""
    master_set, peers, quorum = scripts.master_set, scripts.peers, scripts.quorum
    return f"""\
#!/bin/sh
# Starts redis-sentinel as PID 1, monitoring the master the other pods' sentinels name; when
# none answers, the Redis master that runs (with a replica, not fenced), else pod 0. It
# announces the pod's DNS name, so failover follows the StatefulSet's stable names, not pod
# addresses. Its config (with the password) is on a memory volume.
set -eu
{_context(scripts)}
{_ask_sentinels(peers)}
{_running_master(scripts)}
ask_sentinels
if [ -z "$master" ]; then
  running_master
  master="${{running:-{peers[0]}}}"
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
  printf 'sentinel monitor {master_set} %s {PORT} {quorum}\\n' "$master"
  printf 'sentinel auth-pass {master_set} "%s"\\n' "$quoted"
  printf 'sentinel down-after-milliseconds {master_set} {down_after_ms}\\n'
  printf 'sentinel failover-timeout {master_set} {failover_timeout_ms}\\n'
  printf 'sentinel parallel-syncs {master_set} 1\\n'
}} > "{SENTINEL_DIR}/sentinel.conf"
# Sentinel keeps a link that gets no reply for 15 s before it looks the name up again: a pod
# recreated with a new address would look down that long. Once this sentinel answers, it is
# set to {LINK_RECONNECT_MS} ms (a run-time setting, SENTINEL DEBUG).
(
  tries=0
  until [ "$(redis-cli -p {SENTINEL_PORT} sentinel debug min-link-reconnect-period \\
    {LINK_RECONNECT_MS} 2>/dev/null)" = OK ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || exit 1
    sleep 0.1
  done
) &
unset REDISCLI_AUTH
exec redis-sentinel "{SENTINEL_DIR}/sentinel.conf"
"""


def sentinel_probe_script(scripts: Scripts, *, password_dir: str) -> str:
    """The sentinel container's probes, and whether the sentinels see the pod's Redis."""
    master_set, peers, domain = scripts.master_set, scripts.peers, scripts.domain
    quorum = scripts.quorum
    return f"""\
#!/bin/sh
# Health checks for the sentinel; they authenticate with the mounted password.
#   alive: the sentinel answers PING
#   ready: it monitors a master (it knows the master's address)
#   seen:  (run by redis-server's readiness probe) every sentinel that answers, at least
#          {quorum} of them (or of the pods that exist, if fewer), names this pod's Redis as
#          the master, or lists it as a healthy replica (flags "slave", link to its master up)
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
    [ "$(printf '%s\\n' "$reply" | sed -n 2p)" = {PORT} ] && exit 0
    echo "no master: $reply" >&2
    exit 1
    ;;
  seen)
    # shellcheck disable=SC3028 # the container runtime sets HOSTNAME to the pod name
    self="$HOSTNAME.{domain}"
    role="$(redis-cli -p {PORT} info replication | tr -d '\\r' | sed -n 's/^role://p')"
    what=replicas
    [ "$role" = master ] && what=master
    answered=0
    seen=0
    need=0
    for peer in {" ".join(peers)}; do
      host="$peer"
      if [ "$peer" = "$self" ]; then
        host=127.0.0.1
      elif ! getent hosts "$peer" > /dev/null; then
        continue
      fi
      [ "$need" -lt {quorum} ] && need=$((need + 1))
      reply="$(timeout 1 redis-cli --raw -h "$host" -p {SENTINEL_PORT} \\
        sentinel "$what" {master_set} 2>/dev/null)" || continue
      answered=$((answered + 1))
      if printf '%s\\n' "$reply" | awk -v self="$self" -v what="$what" '
        NR % 2 {{ key = $0; next }}
        key == "name" {{ ip = ""; flags = "" }}
        key == "ip" {{ ip = $0 }}
        key == "flags" {{ flags = $0 }}
        key == "flags" && what == "master" && ip == self && flags == "master" {{ ok = 1 }}
        key == "master-link-status" && ip == self && flags == "slave" && $0 == "ok" {{ ok = 1 }}
        END {{ exit !ok }}'; then
        seen=$((seen + 1))
      fi
    done
    [ "$answered" -ge "$need" ] && [ "$seen" = "$answered" ] && exit 0
    echo "$role seen by $seen of the $answered sentinels that answered" >&2
    exit 1
    ;;
esac
echo "usage: sentinel-probe.sh PASSWORD_FILE alive|ready|seen" >&2
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
