"""HAProxy in front of the Redis pods of ``Redis(failover=...)``: the write Service's pods.

Every connection goes to the one Redis server that answers ``INFO replication`` with
``role:master`` after authenticating, and takes a write; when a server stops being the master,
HAProxy closes the sessions it had to it, so clients reconnect to the new one. No Kubernetes
API rights are needed. The password reaches HAProxy's config (on a memory volume) from the
mounted Secret.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import _bulk, _pod
from ._exporters import METRICS_PORT_NAME
from ._kplus import k8s
from ._types import DisruptionBudget, ExistingSecret, Failover, PodOptions

CONFIG_DIR = "/opt/journal-redis-proxy"
RUN_DIR = "/run/haproxy"
HEALTH_PORT = 8404
CHECK_KEY = "journal-k8s:proxy-check"
"""The key HAProxy's check deletes to see that a server takes writes; nothing else uses it."""
METRICS_PORT = 8405
"""HAProxy's own Prometheus exporter (``use-service prometheus-exporter``), with metrics on."""
_UID, _GID = 99, 99
"""The ``haproxy`` user and group of the official image."""

LAUNCH_SH = f"""\
#!/bin/sh
# Starts HAProxy as PID 1. The health check's AUTH command is written into its config, on a
# memory-backed volume, from the mounted Secret, as hex (no quoting, never a command line).
set -eu
password="$(cat "$1")"
length="$(printf '%s' "$password" | wc -c | tr -d ' ')"
# shellcheck disable=SC2016 # the $ are RESP length markers, not expansions
auth="$(printf '*2\\r\\n$4\\r\\nAUTH\\r\\n$%s\\r\\n%s\\r\\n' "$length" "$password" \\
  | od -An -v -tx1 | tr -d ' \\n')"
umask 077
# Shell built-ins only from here on: the hex must not reach a command line either.
while IFS= read -r line; do
  case "$line" in
    *@AUTH@*) printf '%s%s%s\\n' "${{line%%@AUTH@*}}" "$auth" "${{line#*@AUTH@}}" ;;
    *) printf '%s\\n' "$line" ;;
  esac
done < "{CONFIG_DIR}/haproxy.cfg" > "{RUN_DIR}/haproxy.cfg"
exec haproxy -db -f "{RUN_DIR}/haproxy.cfg"
"""


METRICS_FRONTEND = f"""
frontend metrics
  mode http
  bind :{METRICS_PORT}
  timeout client 5s
  no log
  http-request use-service prometheus-exporter if {{ path /metrics }}
  http-request return status 404
"""


def haproxy_cfg(
    *, port: int, servers: Sequence[tuple[str, str]], failover: Failover, metrics: bool = False
) -> str:
    """HAProxy's config; ``servers`` are (name, fully qualified host) of the Redis pods. With
    ``metrics``, HAProxy's Prometheus exporter answers on ``METRICS_PORT``: the state of each
    Redis server (``haproxy_server_status``) and how many are up as master
    (``haproxy_backend_active_servers{proxy="master"}``)."""
    default_server = " ".join(
        (
            f"inter {failover.check_interval_ms} fall 2 rise 1",
            # A server that stops being the master loses its sessions: clients reconnect.
            "on-marked-down shutdown-sessions",
            "resolvers cluster resolve-prefer ipv4 init-addr libc,none",
        )
    )
    lines = "".join(f"  server {name} {host}:{port} check\n" for name, host in servers)
    return f"""\
# Sends every Redis connection to the server that reports role:master. The placeholder of
# send-binary becomes the RESP AUTH command (hex) when the pod starts.
global
  log stdout format raw local0 notice
  maxconn 4096

defaults
  mode tcp
  log global
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout check 2s
  default-server {default_server}

# Pods' addresses change when they are recreated: resolve their names at run time.
resolvers cluster
  parse-resolv-conf
  resolve_retries 3
  timeout resolve 1s
  timeout retry 1s
  hold valid 5s
  hold other 5s
  hold refused 5s
  hold nx 5s
  hold timeout 5s

frontend health
  mode http
  bind :{HEALTH_PORT}
  timeout client 5s
  acl healthz path /healthz
  acl ready path /ready
  # Ready while exactly one server is the master (not at start, before the first checks).
  acl one_master nbsrv(master) eq 1
  http-request return status 200 content-type text/plain string ok if healthz
  http-request return status 200 content-type text/plain string master if ready one_master
  http-request return status 503 content-type text/plain string not-one-master
{METRICS_FRONTEND if metrics else ""}
frontend redis
  bind :{port}
  default_backend master

backend master
  balance first
  option tcp-check
  tcp-check connect
  tcp-check send-binary @AUTH@
  tcp-check expect string +OK
  tcp-check send info\\ replication\\r\\n
  # min-recv: the role line is within the first 40 bytes; a replica fails at once.
  tcp-check expect min-recv 40 rstring role:master
  # And it takes writes: a DEL of a key nothing uses (no effect, nothing replicated) gets
  # :0, where a master that must not take writes answers NOREPLICAS (too few replicas, or
  # fenced after a restart until the sentinels confirm it) or stalls (pause of a hand-over).
  tcp-check send DEL\\ {CHECK_KEY}\\r\\n
  tcp-check expect min-recv 3 rstring ^:[0-9]
  tcp-check send QUIT\\r\\n
  tcp-check expect string +OK
{lines}"""


def proxy_objects(
    *,
    name: str,
    port: int,
    servers: Sequence[tuple[str, str]],
    password_secret: str,
    password_key: str,
    failover: Failover,
    metrics: bool = False,
) -> dict[str, _bulk.Struct]:
    """The proxy's ConfigMap, Deployment and PodDisruptionBudget, by construct id; with
    ``metrics``, HAProxy's exporter on the container port ``metrics``."""
    labels = _pod.object_labels(name, "proxy")
    files = {
        "launch.sh": LAUNCH_SH,
        "haproxy.cfg": haproxy_cfg(port=port, servers=servers, failover=failover, metrics=metrics),
    }
    container = _pod.container(
        "haproxy",
        failover.proxy_image,
        failover.proxy_resources,
        command=["/bin/sh", f"{CONFIG_DIR}/launch.sh", f"/etc/redis-passwd/{password_key}"],
        ports=[
            _pod.tcp_port("redis", port),
            _pod.tcp_port("health", HEALTH_PORT),
            *([_pod.tcp_port(METRICS_PORT_NAME, METRICS_PORT)] if metrics else []),
        ],
        startup_probe=_pod.http_probe("/healthz", "health", period=2, failures=15),
        liveness_probe=_pod.http_probe("/healthz", "health", period=10, failures=3),
        readiness_probe=_pod.http_probe("/ready", "health", period=2, failures=1),
        volume_mounts=[
            k8s.VolumeMount(name="config", mount_path=CONFIG_DIR, read_only=True),
            k8s.VolumeMount(name="password", mount_path="/etc/redis-passwd", read_only=True),
            k8s.VolumeMount(name="run", mount_path=RUN_DIR),
        ],
    )
    volumes = [
        _pod.config_volume("config", f"{name}-config", files),
        _pod.secret_volume("password", ExistingSecret(name=password_secret, key=password_key)),
        _pod.memory_volume("run"),
    ]
    return {
        "ProxyConfig": k8s.KubeConfigMapProps(
            metadata=_pod.metadata(f"{name}-config", labels), data=files
        ),
        "ProxyDeployment": k8s.KubeDeploymentProps(
            metadata=_pod.metadata(name, labels),
            spec=k8s.DeploymentSpec(
                replicas=failover.proxy_replicas,
                selector=k8s.LabelSelector(match_labels=_pod.selector_labels(name)),
                strategy=_pod.rolling_update(),
                template=_pod.pod_template(
                    name,
                    labels=labels,
                    config_hash=_pod.content_hash(files),
                    uid=_UID,
                    gid=_GID,
                    container=container,
                    volumes=volumes,
                    options=PodOptions(),
                ),
            ),
        ),
        "ProxyBudget": _pod.disruption_budget(name, "proxy", DisruptionBudget(max_unavailable=1)),
    }
