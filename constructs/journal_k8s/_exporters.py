"""The Prometheus exporter sidecars of the tiers: Redis's and NGINX's, with their files.

Each sidecar is ``restricted``, has requests and limits (``Metrics.exporter_resources``) and
probes, and serves its metrics on a container port named ``metrics``.
"""

from __future__ import annotations

from . import _pod
from ._kplus import k8s
from ._types import Metrics

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


def redis_exporter_script(*, password_dir: str, port: int) -> str:
    """The POSIX sh entry point of the Redis exporter: the password file, then the exporter.

    redis_exporter's ``-redis.password-file`` is a JSON map of address to password; it is
    written from the mounted Secret onto a memory-backed volume (shell built-ins only, never a
    command line or the environment), with ``"`` and ``\\`` escaped.
    """
    address = _REDIS_ADDRESS.format(port=port)
    return f"""\
#!/bin/sh
# Starts redis_exporter as PID 1. Its password file, a JSON map of address to password, goes
# from the mounted Secret to a memory-backed volume: never a command line or the environment.
set -eu
password="$(cat "{password_dir}/$1")"
quoted="$(printf '%s' "$password" | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g')"
umask 077
printf '{{"%s":"%s"}}\\n' "{address}" "$quoted" > "{REDIS_EXPORTER_DIR}/passwords.json"
exec /redis_exporter \\
  -redis.addr="{address}" \\
  -redis.password-file="{REDIS_EXPORTER_DIR}/passwords.json" \\
  -web.listen-address=":{REDIS_EXPORTER_PORT}" \\
  -web.telemetry-path=/metrics
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
            "--web.telemetry-path=/metrics",
        ],
        ports=[_pod.tcp_port(METRICS_PORT_NAME, NGINX_EXPORTER_PORT)],
        liveness_probe=_pod.http_probe("/metrics", METRICS_PORT_NAME, period=10, failures=3),
        readiness_probe=_pod.http_probe("/metrics", METRICS_PORT_NAME, period=10, failures=2),
    )
