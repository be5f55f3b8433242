"""ApiFrontend: the journal API server, wired to Redis by object."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from . import _pod
from ._served import ServedWorkload
from ._types import Resources, check_image, check_port, check_positive
from .redis import Redis

DEFAULT_IMAGE = "my-repo/journal-server:v1-abcde"
"""The book's API server image."""

_UID = 10001
PASSWORD_DIR = "/etc/redis-passwd"


class ApiFrontend(ServedWorkload):
    """The API tier: a Deployment, its Service, a ConfigMap of settings and a disruption budget.

    The pods get the Redis read host, write host and port as environment variables, and
    the password as a file from the Redis Secret (its path in ``REDIS_PASSWORD_FILE``, so
    it stays out of the environment); Redis is opened to these pods only.

    Args:
        scope: the parent construct.
        id: the construct id.
        redis: the Redis the API reads from and writes to.
        name: the Deployment, Service and label name. Default: ``"frontend"``.
        image: the container image. Default: ``DEFAULT_IMAGE``.
        replicas: number of pods. Default: 2.
        resources: CPU and memory of each pod (requests equal limits). Default: 1 CPU, 1G.
        journal_entries: the ``journalEntries`` setting, given to the pods as
            ``JOURNAL_ENTRIES``. Default: 10.
        port: the port the server listens on and the Service exposes. Default: 8080.
        ready_path: the HTTP path of the readiness probe. Default: ``"/readyz"``.
        live_path: the HTTP path of the liveness and startup probes. Default: ``"/healthz"``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        redis: Redis,
        name: str = "frontend",
        image: str = DEFAULT_IMAGE,
        replicas: int = 2,
        resources: Resources | None = None,
        journal_entries: int = 10,
        port: int = 8080,
        ready_path: str = "/readyz",
        live_path: str = "/healthz",
    ) -> None:
        super().__init__(scope, id, name=name, service_port=port, container_port=port)
        check_image("image", image)
        check_positive("replicas", replicas)
        check_positive("journal_entries", journal_entries)
        check_port("port", port, unprivileged=True)
        for argument, path in (("ready_path", ready_path), ("live_path", live_path)):
            if not path.startswith("/"):
                raise ValueError(
                    f"{argument}={path!r} is not allowed: expected a path starting with '/'"
                )
        resources = resources or Resources(cpu="1", memory="1G")
        self._define_tier(
            component="api",
            config_name=f"{name}-config",
            config={"journalEntries": str(journal_entries)},
            replicas=replicas,
            pod_spec=self._pod_spec(redis, image, resources, port, ready_path, live_path),
        )
        redis.allow_from(self)

    def _pod_spec(
        self,
        redis: Redis,
        image: str,
        resources: Resources,
        port: int,
        ready_path: str,
        live_path: str,
    ) -> dict[str, Any]:
        return _pod.pod_spec(
            self._name,
            uid=_UID,
            gid=_UID,
            containers=[
                {
                    "name": "api",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
                    "env": self._environment(redis),
                    "resources": _pod.guaranteed(resources),
                    "securityContext": _pod.container_security(),
                    "startupProbe": _pod.http_probe(live_path, "http", period=5, failures=30),
                    "livenessProbe": _pod.http_probe(live_path, "http", period=10, failures=3),
                    "readinessProbe": _pod.http_probe(ready_path, "http", period=5, failures=2),
                    "volumeMounts": [
                        {"name": "tmp", "mountPath": "/tmp"},
                        {"name": "redis-password", "mountPath": PASSWORD_DIR, "readOnly": True},
                    ],
                }
            ],
            volumes=[
                {"name": "tmp", "emptyDir": {}},
                {
                    "name": "redis-password",
                    "secret": {
                        "secretName": redis.password.name,
                        "defaultMode": 0o440,
                        "items": [{"key": redis.password.key, "path": redis.password.key}],
                    },
                },
            ],
        )

    def _environment(self, redis: Redis) -> list[dict[str, Any]]:
        return [
            {
                "name": "JOURNAL_ENTRIES",
                "valueFrom": {
                    "configMapKeyRef": {"name": f"{self._name}-config", "key": "journalEntries"}
                },
            },
            {"name": "REDIS_READ_HOST", "value": redis.read_host},
            {"name": "REDIS_WRITE_HOST", "value": redis.write_host},
            {"name": "REDIS_PORT", "value": str(redis.port)},
            {"name": "REDIS_PASSWORD_FILE", "value": f"{PASSWORD_DIR}/{redis.password.key}"},
        ]
