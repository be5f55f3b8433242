"""Redis: a replicated, authenticated, durable Redis StatefulSet with read and write Services."""

from __future__ import annotations

import dataclasses
import typing

import cdk8s
from constructs import Construct

from . import _alerts, _bulk, _exporters, _network, _pod
from ._autoscaling import tier_budget
from ._kplus import k8s, kplus
from ._network import Pods
from ._peers import SelectablePods, lookup, pods_of
from ._redis_failover import SentinelProxy
from ._redis_fixed import FixedMaster
from ._redis_topology import (
    CONFIG_DIR,
    DATA_DIR,
    DATA_VOLUME,
    PASSWORD_DIR,
    PORT,
    RUN_DIR,
    RedisPods,
    Topology,
)
from ._types import (
    DisruptionBudget,
    ExistingSecret,
    Failover,
    Metrics,
    Peer,
    PodOptions,
    Resources,
    check_bytes,
    check_dns_label,
    check_dns_subdomain,
    check_image,
    check_instance,
    check_name_fits,
    check_positive,
    check_secret,
    check_secret_value,
    check_service_name,
)
from .grammar import quantity_value
from .service_monitor import monitor_objects

DEFAULT_IMAGE = "redis:7.4.2-alpine"
"""A supported Redis 7 on Alpine, pinned; its ``redis`` user is uid 999, gid 1000."""

_UID, _GID = 999, 1000
_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany")


class Redis(SelectablePods):
    """A Redis StatefulSet: pod 0 is the master, the other pods are read-only replicas.

    Reads go to the read Service (every ready pod), writes to the write Service (pod 0
    only). With ``failover``, Redis Sentinel picks the master and the write Service selects
    HAProxy pods that follow it. The password comes from an existing Secret and never
    reaches a command line, the manifests or the snapshots. It is a ``kplus.IPodSelector``
    and network peer (of the Redis pods; ``allow_from`` also opens the HAProxy pods).

    Args:
        scope: the parent construct.
        id: the construct id.
        name: the StatefulSet's name; every object is named after it (``<name>-headless``,
            ``<name>-write``, ``<name>-config``, …). A DNS-1035 label of at most 52
            characters (the StatefulSet limit). Default: ``"redis"``.
        password: the Secret key holding the password, as an ``ExistingSecret`` or a
            ``kplus.SecretValue``. Default: the book's Secret
            ``redis-passwd``, key ``passwd``, which must exist in the namespace.
        replicas: number of pods; 1 runs a lone master. Default: 3.
        image: the container image. Default: ``DEFAULT_IMAGE``.
        storage: size of each pod's data volume, in bytes (at least 1Mi). Default: ``"10Gi"``.
        storage_class: the StorageClass of the data volumes. Default: the cluster's default.
        access_mode: the access mode of the data volumes. Default: ``"ReadWriteOnce"``.
        resources: CPU and memory of each pod. Default: 500m, 512Mi (limits equal requests).
        pod: typed additions to the pods (tolerations, node selector, sidecars, …).
            Default: none.
        failover: automatic failover (``Failover``): a Redis Sentinel beside every Redis
            server and HAProxy pods behind the write Service, which follow whichever pod is
            the master. Needs 3 or more replicas and a chart namespace. Default: ``None``,
            pod 0 is the master for ever and the write Service selects it.
        metrics: Prometheus metrics (``Metrics``): a redis_exporter sidecar in every Redis
            pod (it reads the password from the mounted Secret), with failover HAProxy's own
            exporter, their ServiceMonitors, NetworkPolicies, and alerts that know the
            topology (one master, ``replicas - 1`` replicas, ``min_replicas_to_write``, the
            memory limit). Default: none.
        budget: the Redis pods' disruption budget. Default: one pod at a time
            (``maxUnavailable: 1``; see ``JournalService`` for the rule).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str = "redis",
        password: ExistingSecret | kplus.SecretValue | None = None,
        replicas: int = 3,
        image: str = DEFAULT_IMAGE,
        storage: str = "10Gi",
        storage_class: str | None = None,
        access_mode: str = "ReadWriteOnce",
        resources: Resources | None = None,
        pod: PodOptions | None = None,
        failover: Failover | None = None,
        metrics: Metrics | None = None,
        budget: DisruptionBudget | None = None,
    ) -> None:
        check_service_name("name", name, max_length=52)
        super().__init__(scope, id, name=name)
        self._replicas = check_positive("replicas", replicas)
        check_bytes("storage", storage)
        if storage_class is not None:
            check_dns_subdomain("storage_class", storage_class)
        if access_mode not in _ACCESS_MODES:
            raise ValueError(
                f"access_mode={access_mode!r} is not allowed: expected one of {_ACCESS_MODES}"
            )
        check_image("image", image)
        self.failover = check_instance("failover", failover, Failover, None)
        """The failover settings, or ``None`` (pod 0 is the master for ever)."""
        self.metrics = check_instance("metrics", metrics, Metrics, None)
        """The metrics settings, or ``None`` (no exporter)."""
        self.password = check_secret(
            "password", password, ExistingSecret(name="redis-passwd", key="passwd")
        )
        """The Secret key that holds the Redis password."""
        pods = RedisPods(self, replicas, image, self.password, metrics)
        self._topology: Topology = (
            FixedMaster(pods) if failover is None else SentinelProxy(pods, failover)
        )
        resources = check_instance(
            "resources", resources, Resources, Resources(cpu="500m", memory="512Mi")
        )

        self.headless_service_name = f"{name}-headless"
        """The governing headless Service: it gives every pod a DNS name."""
        self.read_host = name
        """The read Service's host name (every ready pod), inside the namespace."""
        self.write_host = f"{name}-write"
        """The write Service's host name (the master only), inside the namespace."""
        self.port = PORT
        """The Redis port of every Service."""
        self.master_host = f"{name}-0.{self.headless_service_name}"
        """Pod 0's DNS name, inside the namespace: the master's (with failover, the first one's)."""
        self.proxy_name = f"{name}-proxy"
        """With failover, the HAProxy Deployment's name (the write Service's pods)."""
        self._allowed: set[str] = set()
        self._password_secret: kplus.ISecret | None = None
        labels = _pod.object_labels(name, "storage")

        files = self._topology.files()
        if metrics is not None:
            metrics_service = f"{self.proxy_name if failover else name}-metrics"
            check_name_fits("name", name, metrics_service, "the metrics Service")
            files["exporter.sh"] = _exporters.redis_exporter_script(
                password_dir=PASSWORD_DIR, port=PORT
            )
        write_selector = self._topology.write_selector()
        own_pods = k8s.LabelSelector(match_labels=dict(self._pod_labels))
        own = Pods(name, self, None, self._pod_labels)  # both sides share one namespace
        pod_options = check_instance("pod", pod, PodOptions, PodOptions())
        exporters = (
            []
            if metrics is None
            else [
                _exporters.redis_exporter(
                    metrics,
                    config_dir=CONFIG_DIR,
                    password_dir=PASSWORD_DIR,
                    password_key=self.password.key,
                )
            ]
        )
        pod_options = dataclasses.replace(
            pod_options, sidecars=[*self._topology.sidecars(), *exporters, *pod_options.sidecars]
        )
        namespace = _bulk.define(
            self,
            {
                "Config": k8s.KubeConfigMapProps(
                    metadata=_pod.metadata(f"{name}-config", labels), data=files
                ),
                "Headless": self._service(self.headless_service_name, headless=True),
                "ReadService": self._service(self.read_host),
                "WriteService": self._service(self.write_host, write_selector),
                "StatefulSet": k8s.KubeStatefulSetProps(
                    metadata=_pod.metadata(name, labels),
                    spec=k8s.StatefulSetSpec(
                        service_name=self.headless_service_name,
                        replicas=replicas,
                        pod_management_policy="OrderedReady",
                        selector=own_pods,
                        template=self._pod_template(image, resources, labels, files, pod_options),
                        volume_claim_templates=[
                            k8s.KubePersistentVolumeClaimProps(
                                metadata=_pod.metadata(DATA_VOLUME, labels),
                                spec=k8s.PersistentVolumeClaimSpec(
                                    access_modes=[access_mode],
                                    storage_class_name=storage_class,
                                    resources=k8s.ResourceRequirements(
                                        requests={"storage": _bulk.quantity(storage)}
                                    ),
                                ),
                            )
                        ],
                    ),
                ),
                "Budget": _pod.disruption_budget(
                    name, "storage", tier_budget("budget", budget, replicas, replicas)
                ),
                **dict(
                    zip(
                        ("ReplicationPolicy", "ReplicationEgressPolicy"),
                        _network.connection(
                            server=own,
                            client=own,
                            port=PORT,
                            labels=labels,
                            names=(name, f"{name}-replication"),
                        ),
                        strict=True,
                    )
                ),
                **self._topology.objects(),
                **(self._metrics_objects(metrics, resources) if metrics else {}),
            },
            # The API server stores a claim template with its apiVersion and kind; the L1
            # struct has neither, and a GitOps differ would see them missing for ever.
            [
                (
                    "StatefulSet",
                    {"op": "add", "path": f"/spec/volumeClaimTemplates/0/{k}", "value": v},
                )
                for k, v in (("apiVersion", "v1"), ("kind", "PersistentVolumeClaim"))
            ],
        )
        self._learn(namespace)
        if isinstance(password, kplus.SecretValue):
            check_secret_value("password", password, namespace)

    @property
    def replicas(self) -> int:
        """The number of pods."""
        return self._replicas

    @property
    def password_secret(self) -> kplus.ISecret:
        """The password's Secret, for cdk8s-plus (its key is ``password.key``)."""
        if self._password_secret is None:
            self._password_secret = kplus.Secret.from_secret_name(
                self, "PasswordSecret", self.password.name
            )
        return self._password_secret

    @property
    def stateful_set(self) -> cdk8s.ApiObject:
        """The StatefulSet (construct id ``StatefulSet``), for JSON patches."""
        return _bulk.api_object(self, "StatefulSet")

    @property
    def config_map(self) -> cdk8s.ApiObject:
        """The ConfigMap of scripts and redis.conf (construct id ``Config``)."""
        return _bulk.api_object(self, "Config")

    @property
    def proxy_deployment(self) -> cdk8s.ApiObject:
        """With failover, the HAProxy Deployment (construct id ``ProxyDeployment``).

        Raises:
            ValueError: the Redis has no failover.
        """
        if self.node.try_find_child("ProxyDeployment") is None:
            raise ValueError(f"Redis {self.node.path} has no failover, hence no proxy")
        return _bulk.api_object(self, "ProxyDeployment")

    @property
    def headless_service(self) -> cdk8s.ApiObject:
        """The governing headless Service (construct id ``Headless``)."""
        return _bulk.api_object(self, "Headless")

    @property
    def read_service(self) -> cdk8s.ApiObject:
        """The read Service over every ready pod (construct id ``ReadService``)."""
        return _bulk.api_object(self, "ReadService")

    @property
    def write_service(self) -> cdk8s.ApiObject:
        """The write Service (construct id ``WriteService``): to pod 0, or with failover to
        the HAProxy pods."""
        return _bulk.api_object(self, "WriteService")

    def hosts(self, seen_from: str | None, *, cluster_domain: str | None = None) -> tuple[str, str]:
        """The read and write host names for a client in namespace ``seen_from``.

        The short Service names inside Redis's namespace; ``<service>.<namespace>.svc``
        (followed by ``cluster_domain`` when given) from any other namespace.

        Raises:
            ValueError: the client's namespace differs and Redis's chart has no namespace.
        """
        namespace = self.namespace
        if seen_from == namespace and cluster_domain is None:
            return self.read_host, self.write_host
        if namespace is None:
            raise ValueError(
                f"Redis {self.node.path} has no namespace (its chart sets none), so a client "
                f"in namespace {seen_from!r} cannot name its Services: give its chart a namespace"
            )
        suffix = f".{namespace}.svc" + (f".{cluster_domain}" if cluster_domain else "")
        return self.read_host + suffix, self.write_host + suffix

    def allow_from(self, peer: Peer) -> None:
        """Let ``peer``'s pods reach Redis on its port (both directions of the policy).

        ``peer`` is what ``Peer`` names: a journal construct or any ``Workload`` construct, a
        cdk8s-plus workload, pod selector (``kplus.IPodSelector``) or Service, or a plain L1
        workload (``k8s.KubeDeployment``, any ``cdk8s.ApiObject`` of a pod-running kind), in
        this namespace or another one (the policies then name the namespace). As cdk8s-plus
        selects a workload's pods (``IPodSelector``), the pods are those the peer's own
        selector picks in its namespace: a ``Workload``'s ``pod_labels``, an L1 workload's
        ``spec.selector`` (a Job's, CronJob's or Pod's pod labels). The egress policy goes to
        ``peer``'s own chart and namespace. The policies are ``<redis>-from-<peer>`` and
        ``<peer>-to-<redis>``; the other side's name takes its namespace in front where the
        namespaces differ (``redis-from-jobs-worker``), so same-named peers of two namespaces
        are two peers. Calling it again for the same pods changes nothing.

        Raises:
            TypeError: ``peer`` is none of those.
            ValueError: the peer selects no pods by label, or the two namespaces differ and
                one is unknown.
        """
        if isinstance(peer, SelectablePods):
            lookup(self, peer)
        client = pods_of(peer, "peer")
        if client.key in self._allowed:
            return
        own = self.pods()
        labels = _pod.object_labels(self._name, "storage")
        own_objects: dict[str, _bulk.Struct] = {}
        client_objects: dict[str, _bulk.Struct] = {}
        for prefix, server in [("", own), *self._topology.fronts()]:
            ingress, egress = _network.connection(
                server=server, client=client, port=PORT, labels=labels
            )
            own_objects[f"{prefix}AllowFrom-{client.name_seen_from(server)}"] = ingress
            client_objects[f"AllowTo-{server.name_seen_from(client)}"] = egress
        _bulk.define(
            self,
            own_objects,
            elsewhere=[(client.scope, id, body) for id, body in client_objects.items()],
        )
        self._allowed.add(client.key)

    def connect(
        self,
        workload: kplus.AbstractPod,
        container: kplus.Container,
        *,
        cluster_domain: str | None = None,
    ) -> None:
        """Give a cdk8s-plus container the Redis connection, as ``ApiFrontend`` gets it.

        ``REDIS_READ_HOST``, ``REDIS_WRITE_HOST`` and ``REDIS_PORT`` in its environment; the
        password as the file ``REDIS_PASSWORD_FILE`` names (mounted read-only from the
        Secret, never an environment variable); and the NetworkPolicies of
        ``allow_from(workload)``. The Secret must exist in the workload's namespace. More
        containers of one workload share its password volume; connecting a container again
        changes nothing.

        Raises:
            ValueError: the container is not one of the workload's, or it already has another
                Redis's connection, or something else mounted where the password goes: its
                variables or mounts would clash.
        """
        client = pods_of(workload, "workload")
        own = (*workload.containers, *workload.init_containers)
        if not any(_bulk.same_object(c, container) for c in own):
            raise ValueError(
                f"container={container.name!r} is not allowed: it is not a container of "
                f"workload={workload.node.path}, whose pods the policies would let in; give "
                "that workload's own container"
            )
        read_host, write_host = self.hosts(client.namespace, cluster_domain=cluster_domain)
        if self._connected(container, write_host):
            self.allow_from(workload)
            return
        for variable, value in (
            ("REDIS_READ_HOST", read_host),
            ("REDIS_WRITE_HOST", write_host),
            ("REDIS_PORT", str(PORT)),
            ("REDIS_PASSWORD_FILE", f"{PASSWORD_DIR}/{self.password.key}"),
        ):
            container.env.add_variable(variable, kplus.EnvValue.from_value(value))
        # Named as the policies name this Redis: two same-named ones of two namespaces are two.
        volume_id = check_dns_label(
            "the password volume's name", f"{self.pods().name_seen_from(client)}-password"
        )
        volume = workload.node.try_find_child(volume_id)
        if volume is None:
            volume = kplus.Volume.from_secret(
                workload,
                volume_id,
                kplus.Secret.from_secret_name(workload, f"{volume_id}-secret", self.password.name),
                default_mode=0o440,
                items={self.password.key: kplus.PathMapping(path=self.password.key)},
                name=volume_id,
            )
        container.mount(PASSWORD_DIR, typing.cast(kplus.Volume, volume), read_only=True)
        self.allow_from(workload)

    def _connected(self, container: kplus.Container, write_host: str) -> bool:
        """Whether ``connect`` already gave ``container`` this Redis's connection.

        Raises:
            ValueError: it has another Redis's connection, or another mount at the password's
                folder.
        """
        given = container.env.variables.get("REDIS_WRITE_HOST")
        mounted = [m for m in container.mounts if m.path == PASSWORD_DIR]
        if given is None and not mounted:
            return False
        if given is not None and given.value == write_host and mounted:
            return True
        other = (
            f"the connection of the Redis at {given.value!r}"
            if given is not None
            else f"another volume mounted at {PASSWORD_DIR}"
        )
        raise ValueError(
            f"container={container.name!r} is not allowed: it already has {other}, and one "
            f"container holds one Redis connection (REDIS_* variables, the password file in "
            f"{PASSWORD_DIR}); connect Redis {self.node.path} to another container"
        )

    def _service(
        self, name: str, selector: dict[str, str] | None = None, *, headless: bool = False
    ) -> k8s.KubeServiceProps:
        return _pod.service(
            name=name,
            labels=_pod.object_labels(self._name, "storage"),
            selector=self._pod_labels if selector is None else selector,
            port_name="redis",
            port_number=PORT,
            headless=headless,
        )

    def _pod_template(
        self,
        image: str,
        resources: Resources,
        labels: dict[str, str],
        files: dict[str, str],
        options: PodOptions,
    ) -> k8s.PodTemplateSpec:
        def probe(mode: str, *, period: int, failures: int) -> k8s.Probe:
            return k8s.Probe(
                exec=k8s.ExecAction(
                    command=["/bin/sh", f"{CONFIG_DIR}/probe.sh", self.password.key, mode]
                ),
                period_seconds=period,
                timeout_seconds=3,
                failure_threshold=failures,
            )

        lifecycle, grace_period = self._topology.stopping()
        return _pod.pod_template(
            self._name,
            labels=labels,
            config_hash=_pod.content_hash(files),
            uid=_UID,
            gid=_GID,
            options=options,
            termination_grace_period=grace_period,
            dns_config=self._topology.dns_config(),
            claimed=[DATA_VOLUME],
            container=_pod.container(
                "redis",
                image,
                resources,
                command=["/bin/sh", f"{CONFIG_DIR}/launch.sh"],
                ports=[_pod.tcp_port("redis", PORT)],
                startup_probe=probe("started", period=5, failures=120),
                liveness_probe=probe("alive", period=10, failures=6),
                readiness_probe=probe("ready", period=5, failures=2),
                lifecycle=lifecycle,
                volume_mounts=[
                    k8s.VolumeMount(name=DATA_VOLUME, mount_path=DATA_DIR),
                    k8s.VolumeMount(name="config", mount_path=CONFIG_DIR, read_only=True),
                    k8s.VolumeMount(name="password", mount_path=PASSWORD_DIR, read_only=True),
                    k8s.VolumeMount(name="run", mount_path=RUN_DIR),
                ],
            ),
            volumes=[
                _pod.config_volume("config", f"{self._name}-config", files),
                _pod.secret_volume("password", self.password),
                *(
                    _pod.memory_volume(volume)
                    for volume in (
                        "run",
                        *self._topology.memory_volumes,
                        *([_exporters.REDIS_EXPORTER_VOLUME] if self.metrics else []),
                    )
                ),
            ],
        )

    def _metrics_objects(self, metrics: Metrics, resources: Resources) -> dict[str, _bulk.Body]:
        """The exporter's Service, ServiceMonitor, policy and the alerts of the Redis pods."""
        failover = self.failover
        limit = quantity_value(resources.memory_limit or resources.memory)
        namespace = metrics.check_namespace(self.namespace, self)
        alerts = _alerts.redis_alerts(
            name=self._name,
            job=f"{self._name}-metrics",
            namespace=namespace,
            replicas=self._replicas,
            memory_limit_bytes=int(limit),
            memory_ratio=metrics.memory_ratio,
            max_lag_seconds=failover.min_replicas_max_lag if failover else 10,
            min_replicas_to_write=failover.min_replicas_to_write if failover else 0,
        )
        return monitor_objects(
            name=self._name,
            pods=self._pod_labels,
            port=_exporters.REDIS_EXPORTER_PORT,
            metrics=metrics,
            groups=[
                _alerts.group(self._name, alerts, namespace=namespace, interval=metrics.interval)
            ],
        )
