"""StaticSite: an unprivileged NGINX that serves the journal's HTML, CSS, JS and images."""

from __future__ import annotations

import dataclasses

from constructs import Construct

from . import _alerts, _exporters, _pod
from ._kplus import k8s
from ._served import ServedWorkload
from ._types import (
    Autoscaling,
    DisruptionBudget,
    Metrics,
    PodOptions,
    Resources,
    check_image,
    check_instance,
    check_name_fits,
    check_port,
)
from .service_monitor import monitor_objects

DEFAULT_IMAGE = "my-repo/static-files:v1-abcde"
"""The book's static files image (NGINX with the site under the document root)."""

CONFIG_DIR = "/etc/nginx/journal"
_UID = 101  # the nginx user of the official NGINX images
_WRITABLE = {"tmp": "/tmp", "cache": "/var/cache/nginx"}

SECURITY_HEADERS_CONF = """\
add_header X-Content-Type-Options "nosniff" always;
add_header X-Frame-Options "DENY" always;
add_header Referrer-Policy "strict-origin-when-cross-origin" always;
add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'none'" always;
"""


def nginx_conf(*, port: int, document_root: str, status: bool = False) -> str:
    """NGINX's main configuration: non-root, read-only root filesystem, writes only to /tmp;
    with ``status``, ``stub_status`` for the exporter on the pod's loopback."""
    return f"""\
# Static file server: runs unprivileged on a read-only root filesystem, writes only to /tmp.
worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr warn;

events {{
    worker_connections 1024;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    server_tokens off;
    sendfile on;
    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;

    gzip on;
    gzip_vary on;
    gzip_min_length 1024;
    gzip_types text/plain text/css text/xml application/javascript application/json image/svg+xml;

    server {{
        listen {port};
        # Redirects keep the client's scheme, host and port (the Ingress's), not NGINX's own.
        absolute_redirect off;
        root {document_root};
        index index.html;
        include {CONFIG_DIR}/security-headers.conf;

        location = /healthz {{
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }}

        # Fingerprinted assets (name.0123abcd.css) never change: cache them for a year.
        location ~* "\\.[0-9a-f]{{8,}}\\.(css|js|mjs|png|jpe?g|gif|svg|webp|ico|woff2?)$" {{
            include {CONFIG_DIR}/security-headers.conf;
            add_header Cache-Control "public, max-age=31536000, immutable" always;
            try_files $uri =404;
        }}

        location / {{
            try_files $uri $uri/ =404;
        }}
    }}
{_exporters.nginx_status_server() if status else ""}}}
"""


class StaticSite(ServedWorkload):
    """The static tier: an NGINX Deployment, its configuration, a Service and a disruption budget.

    Args:
        scope: the parent construct.
        id: the construct id.
        name: the Deployment, Service, budget and label name; the ConfigMap is
            ``<name>-nginx``. Default: ``"fileserver"``.
        image: an NGINX-based image with the site under ``document_root``.
            Default: ``DEFAULT_IMAGE``.
        replicas: number of pods, without ``autoscaling``. Default: 2.
        resources: CPU and memory of each pod. Default: 1 CPU, 1G (limits equal requests).
        service_port: the Service's port. Default: 80.
        container_port: the unprivileged port NGINX listens on. Default: 8080.
        document_root: the folder NGINX serves. Default: ``"/usr/share/nginx/html"``.
        pod: typed additions to the pods (env, sidecars, tolerations, …). Default: none.
        metrics: Prometheus metrics (``Metrics``): NGINX's ``stub_status`` on the pod's
            loopback, an exporter sidecar, its ServiceMonitor, alerts and NetworkPolicy.
            Default: none.
        autoscaling: a HorizontalPodAutoscaler between ``min_replicas`` and ``max_replicas``
            pods instead of ``replicas`` (the Deployment then has no ``spec.replicas``).
            Default: none, ``replicas`` pods. A ``kplus.HorizontalPodAutoscaler`` can target
            the tier instead (it is a ``kplus.IScalable``).
        budget: the pods' disruption budget. Default: one pod at a time
            (``maxUnavailable: 1``), or ``minAvailable: 1`` when an autoscaler may hold a
            single pod, so that a drain never takes the last one (see ``JournalService``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str = "fileserver",
        image: str = DEFAULT_IMAGE,
        replicas: int | None = None,
        resources: Resources | None = None,
        service_port: int = 80,
        container_port: int = 8080,
        document_root: str = "/usr/share/nginx/html",
        pod: PodOptions | None = None,
        metrics: Metrics | None = None,
        autoscaling: Autoscaling | None = None,
        budget: DisruptionBudget | None = None,
    ) -> None:
        super().__init__(
            scope, id, name=name, service_port=service_port, container_port=container_port
        )
        check_image("image", image)
        check_port("service_port", service_port)
        check_port("container_port", container_port, unprivileged=True)
        if not document_root.startswith("/"):
            raise ValueError(
                f"document_root={document_root!r} is not allowed: expected an absolute path"
            )
        resources = check_instance(
            "resources", resources, Resources, Resources(cpu="1", memory="1G")
        )
        options = check_instance("pod", pod, PodOptions, PodOptions())
        check_instance("metrics", metrics, Metrics, None)
        files = {
            "nginx.conf": nginx_conf(
                port=container_port, document_root=document_root, status=metrics is not None
            ),
            "security-headers.conf": SECURITY_HEADERS_CONF,
        }
        extra = {}
        if metrics is not None:
            options = dataclasses.replace(
                options, sidecars=[_exporters.nginx_exporter(metrics), *options.sidecars]
            )
            job = f"{name}-metrics"
            check_name_fits("name", name, job, "the metrics Service")
            namespace = metrics.check_namespace(self.namespace, self)
            extra = monitor_objects(
                name=name,
                pods=self._pod_labels,
                port=_exporters.NGINX_EXPORTER_PORT,
                metrics=metrics,
                groups=[
                    _alerts.group(
                        name,
                        _alerts.nginx_alerts(name=name, job=job, namespace=namespace),
                        namespace=namespace,
                        interval=metrics.interval,
                    )
                ],
            )
        self._define_tier(
            component="static",
            config_name=f"{name}-nginx",
            config=files,
            replicas=replicas,
            autoscaling=autoscaling,
            budget=budget,
            uid=_UID,
            options=options,
            resources=resources,
            container=self._container(image, resources, container_port),
            volumes=[
                k8s.Volume(
                    name="config",
                    config_map=k8s.ConfigMapVolumeSource(name=f"{name}-nginx", default_mode=0o444),
                ),
                *(
                    k8s.Volume(name=volume, empty_dir=k8s.EmptyDirVolumeSource())
                    for volume in _WRITABLE
                ),
            ],
            extra=extra,
        )

    def _container(self, image: str, resources: Resources, container_port: int) -> k8s.Container:
        return _pod.container(
            "nginx",
            image,
            resources,
            command=[
                "nginx",
                "-e",
                "stderr",
                "-c",
                f"{CONFIG_DIR}/nginx.conf",
                "-g",
                "daemon off;",
            ],
            ports=[_pod.tcp_port("http", container_port)],
            startup_probe=_pod.http_probe("/healthz", "http", period=2, failures=15),
            liveness_probe=_pod.http_probe("/healthz", "http", period=10, failures=3),
            readiness_probe=_pod.http_probe("/healthz", "http", period=5, failures=2),
            volume_mounts=[
                k8s.VolumeMount(name="config", mount_path=CONFIG_DIR, read_only=True),
                *(
                    k8s.VolumeMount(name=volume, mount_path=path)
                    for volume, path in _WRITABLE.items()
                ),
            ],
        )
