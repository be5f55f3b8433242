"""The Prometheus exporter sidecars of the tiers: Redis's and NGINX's, with their files.

Each sidecar is ``restricted``, has requests and limits (``Metrics.exporter_resources``) and
probes, and serves its metrics on a container port named ``metrics``.
"""

from __future__ import annotations

from . import _pod
from ._kplus import k8s
from ._types import DEFAULT_METRICS_PATH, Metrics

METRICS_PORT_NAME = "metrics"
"""The name of every container port that serves metrics."""
REDIS_EXPORTER_PORT = 9121
NGINX_EXPORTER_PORT = 9113
NGINX_STATUS_PORT = 8081
"""NGINX's ``stub_status``, on the pod's loopback only: the exporter beside it reaches it."""
REDIS_EXPORTER_DIR = "/run/redis-exporter"
REDIS_EXPORTER_VOLUME = "redis-exporter"
"""The memory-backed volume of the Redis exporter's password file."""
_REDIS_ADDRESS = "redis://127.0.0.1:{port}"
_NGINX_EXPORTER_UID = 1001
"""The user the NGINX exporter image runs as (``USER 1001:1001`` of its Dockerfile, 1.x)."""


_JSON_QUOTED = r"""quoted="$(printf '%s' "$password" | awk '
BEGIN { for (i = 1; i < 32; i++) code[sprintf("%c", i)] = sprintf("\\u%04x", i) }
{
  out = ""
  for (i = 1; i <= length($0); i++) {
    c = substr($0, i, 1)
    if (c == "\\" || c == "\"") c = "\\" c
    else if (c in code) c = code[c]
    out = out c
  }
  printf "%s%s", (NR > 1 ? "\\u000a" : ""), out
}')"
"""
"""POSIX sh and awk: ``$quoted``, the text of ``$password`` inside a JSON string (``"`` and
``\\`` escaped, control characters and line breaks as ``\\u00XX``)."""


def redis_exporter_script(*, password_dir: str, port: int) -> str:
    """The POSIX sh entry point of the Redis exporter: the password file, then the exporter.

    redis_exporter's ``-redis.password-file`` is a JSON map of address to password; it is
    written from the mounted Secret onto a memory-backed volume (shell built-ins and awk
    only, never a command line or the environment), escaped as a JSON string.
    """
    address = _REDIS_ADDRESS.format(port=port)
    return f"""\
#!/bin/sh
# Starts redis_exporter as PID 1. Its password file, a JSON map of address to password, goes
# from the mounted Secret to a memory-backed volume: never a command line or the environment.
set -eu
password="$(cat "{password_dir}/$1")"
{_JSON_QUOTED}umask 077
printf '{{"%s":"%s"}}\\n' "{address}" "$quoted" > "{REDIS_EXPORTER_DIR}/passwords.json"
exec /redis_exporter \\
  -redis.addr="{address}" \\
  -redis.password-file="{REDIS_EXPORTER_DIR}/passwords.json" \\
  -web.listen-address=":{REDIS_EXPORTER_PORT}" \\
  -web.telemetry-path={DEFAULT_METRICS_PATH}
"""


def redis_exporter(
    metrics: Metrics, *, config_dir: str, password_dir: str, password_key: str
) -> k8s.Container:
    """The Redis exporter sidecar (``exporter.sh`` of the ConfigMap at ``config_dir``); it
    shares the pod's ``config`` and ``password`` volumes and a memory volume
    ``REDIS_EXPORTER_VOLUME`` of its own."""
    return _pod.container(
        "redis-exporter",
        metrics.redis_exporter_image,
        metrics.exporter_resources,
        command=["/bin/sh", f"{config_dir}/exporter.sh", password_key],
        ports=[_pod.tcp_port(METRICS_PORT_NAME, REDIS_EXPORTER_PORT)],
        liveness_probe=_pod.http_probe("/health", METRICS_PORT_NAME, period=10, failures=3),
        readiness_probe=_pod.http_probe("/health", METRICS_PORT_NAME, period=10, failures=2),
        volume_mounts=[
            k8s.VolumeMount(name="config", mount_path=config_dir, read_only=True),
            k8s.VolumeMount(name="password", mount_path=password_dir, read_only=True),
            k8s.VolumeMount(name=REDIS_EXPORTER_VOLUME, mount_path=REDIS_EXPORTER_DIR),
        ],
    )


def nginx_status_server() -> str:
    """The NGINX ``server`` block of ``stub_status``: loopback only, for the exporter."""
    return f"""
    # stub_status for the exporter beside NGINX: on the pod's loopback only.
    server {{
        listen 127.0.0.1:{NGINX_STATUS_PORT};
        access_log off;
        location = /stub_status {{
            stub_status;
        }}
        location / {{
            return 404;
        }}
    }}
"""


def nginx_exporter(metrics: Metrics) -> k8s.Container:
    """The NGINX exporter sidecar, reading ``stub_status`` on the pod's loopback."""
    return _pod.container(
        "nginx-exporter",
        metrics.nginx_exporter_image,
        metrics.exporter_resources,
        run_as=_NGINX_EXPORTER_UID,
        command=["/usr/bin/nginx-prometheus-exporter"],
        args=[
            f"--nginx.scrape-uri=http://127.0.0.1:{NGINX_STATUS_PORT}/stub_status",
            f"--web.listen-address=:{NGINX_EXPORTER_PORT}",
            f"--web.telemetry-path={DEFAULT_METRICS_PATH}",
        ],
        ports=[_pod.tcp_port(METRICS_PORT_NAME, NGINX_EXPORTER_PORT)],
        liveness_probe=_pod.http_probe(
            DEFAULT_METRICS_PATH, METRICS_PORT_NAME, period=10, failures=3
        ),
        readiness_probe=_pod.http_probe(
            DEFAULT_METRICS_PATH, METRICS_PORT_NAME, period=10, failures=2
        ),
    )
