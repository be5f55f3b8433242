"""ApiFrontend: the journal API server, wired to Redis by object."""

from __future__ import annotations

from cdk8s_plus_27 import k8s
from constructs import Construct

from . import _pod
from ._served import ServedWorkload
from ._types import Resources, check_image, check_positive
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
        if not 1024 <= port <= 65535:
            raise ValueError(f"port={port!r} is not allowed: expected 1024..65535 (unprivileged)")
        for argument, path in (("ready_path", ready_path), ("live_path", live_path)):
            if not path.startswith("/"):
                raise ValueError(
                    f"{argument}={path!r} is not allowed: expected a path starting with '/'"
                )
        resources = resources or Resources(cpu="1", memory="1G")
        labels = _pod.object_labels(name, "api")
        settings = {"journalEntries": str(journal_entries)}

        self.config_map = k8s.KubeConfigMap(
            self,
            "Config",
            metadata=k8s.ObjectMeta(name=f"{name}-config", labels=labels),
            data=settings,
        )
        self.deployment = k8s.KubeDeployment(
            self,
            "Deployment",
            metadata=k8s.ObjectMeta(name=name, labels=labels),
            spec=k8s.DeploymentSpec(
                replicas=replicas,
                selector=k8s.LabelSelector(match_labels=self._pod_labels),
                strategy=_pod.rolling_update(),
                template=k8s.PodTemplateSpec(
                    metadata=k8s.ObjectMeta(
                        labels=labels,
                        annotations={_pod.CONFIG_HASH_ANNOTATION: _pod.content_hash(settings)},
                    ),
                    spec=k8s.PodSpec(
                        automount_service_account_token=False,
                        enable_service_links=False,
                        security_context=_pod.pod_security(uid=_UID, gid=_UID),
                        topology_spread_constraints=_pod.spread_over_nodes(name),
                        containers=[
                            k8s.Container(
                                name="api",
                                image=image,
                                image_pull_policy="IfNotPresent",
                                ports=[
                                    k8s.ContainerPort(
                                        name="http", container_port=port, protocol="TCP"
                                    )
                                ],
                                env=self._environment(redis),
                                resources=_pod.guaranteed(resources),
                                security_context=_pod.container_security(),
                                startup_probe=_pod.http_probe(
                                    live_path, "http", period=5, failures=30
                                ),
                                liveness_probe=_pod.http_probe(
                                    live_path, "http", period=10, failures=3
                                ),
                                readiness_probe=_pod.http_probe(
                                    ready_path, "http", period=5, failures=2
                                ),
                                volume_mounts=[
                                    k8s.VolumeMount(name="tmp", mount_path="/tmp"),
                                    k8s.VolumeMount(
                                        name="redis-password",
                                        mount_path=PASSWORD_DIR,
                                        read_only=True,
                                    ),
                                ],
                            )
                        ],
                        volumes=[
                            k8s.Volume(name="tmp", empty_dir=k8s.EmptyDirVolumeSource()),
                            k8s.Volume(
                                name="redis-password",
                                secret=k8s.SecretVolumeSource(
                                    secret_name=redis.password.name,
                                    default_mode=0o440,
                                    items=[
                                        k8s.KeyToPath(
                                            key=redis.password.key, path=redis.password.key
                                        )
                                    ],
                                ),
                            ),
                        ],
                    ),
                ),
            ),
        )
        self.service = _pod.service(
            self,
            "Service",
            name=name,
            labels=labels,
            selector=self._pod_labels,
            port_name="http",
            port_number=port,
        )
        self.disruption_budget = _pod.disruption_budget(self, name, "api")
        redis.allow_from(self)

    def _environment(self, redis: Redis) -> list[k8s.EnvVar]:
        return [
            k8s.EnvVar(
                name="JOURNAL_ENTRIES",
                value_from=k8s.EnvVarSource(
                    config_map_key_ref=k8s.ConfigMapKeySelector(
                        name=f"{self._name}-config", key="journalEntries"
                    )
                ),
            ),
            k8s.EnvVar(name="REDIS_READ_HOST", value=redis.read_host),
            k8s.EnvVar(name="REDIS_WRITE_HOST", value=redis.write_host),
            k8s.EnvVar(name="REDIS_PORT", value=str(redis.port)),
            k8s.EnvVar(name="REDIS_PASSWORD_FILE", value=f"{PASSWORD_DIR}/{redis.password.key}"),
        ]
