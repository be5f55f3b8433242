"""cdk8s-plus-27 interop: the journal tiers as kplus pod selectors, peers, Services and Secrets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import cdk8s
import cdk8s_plus_27 as kplus
import pytest
from cdk8s_plus_27 import k8s
from constructs import Construct

from journal_k8s import (
    ApiFrontend,
    ExistingSecret,
    JournalService,
    PathIngress,
    Quota,
    Redis,
    RestrictedNamespace,
    StaticSite,
    Workload,
    adopt_restricted,
)
from support import ROOT, Backend, Manifest, find, synth

REDIS_PODS = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "journal"}


def deployment(
    scope: cdk8s.Chart,
    name: str = "web",
    security: kplus.ContainerSecurityContextProps | None = None,
) -> kplus.Deployment:
    container = kplus.ContainerProps(
        image="team/web:1.0", port_number=8080, security_context=security
    )
    return kplus.Deployment(
        scope, name.title(), metadata=cdk8s.ApiObjectMetadata(name=name), containers=[container]
    )


def policies(objects: list[Manifest]) -> list[Manifest]:
    return [o for o in objects if o["kind"] == "NetworkPolicy"]


def test_kplus_allow_to_redis_selects_exactly_its_pods_in_its_namespace(
    chart: cdk8s.Chart,
) -> None:
    redis = Redis(chart, "Redis")
    web = deployment(chart)
    web.connections.allow_to(redis)
    objects = synth(chart)
    (outbound,) = [p for p in policies(objects) if p["metadata"]["name"].startswith("allowegress")]
    assert outbound["spec"]["egress"][0]["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "test"}},
            "podSelector": {"matchLabels": REDIS_PODS},
        }
    ]
    (inbound,) = [p for p in policies(objects) if p["metadata"]["name"].startswith("allowingress")]
    assert inbound["spec"]["podSelector"] == {"matchLabels": REDIS_PODS}
    assert inbound["metadata"]["namespace"] == "test"


def test_a_kplus_network_policy_takes_a_journal_tier_as_selector_and_peer(
    chart: cdk8s.Chart,
) -> None:
    redis = Redis(chart, "Redis")
    site = StaticSite(chart, "Static")
    policy = kplus.NetworkPolicy(chart, "Custom", selector=redis)
    policy.add_ingress_rule(site, [kplus.NetworkPolicyPort.tcp(6379)])
    spec = find(synth(chart), "NetworkPolicy", policy.name)["spec"]
    assert spec["podSelector"] == {"matchLabels": REDIS_PODS}
    assert spec["ingress"][0]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "test"}},
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "fileserver",
                    "app.kubernetes.io/part-of": "journal",
                }
            },
        }
    ]


def test_redis_allows_a_kplus_deployment_a_pod_selection_and_a_service(
    chart: cdk8s.Chart,
) -> None:
    redis = Redis(chart, "Redis")
    web = deployment(chart)
    redis.allow_from(web)
    redis.allow_from(web)  # the same pods: nothing more
    redis.allow_from(kplus.Pods.select(chart, "Batch", labels={"role": "batch"}))
    jobs = deployment(cdk8s.Chart(chart.node.scope, "jobs", namespace="jobs"), "jobs")  # type: ignore[arg-type]
    redis.allow_from(jobs.expose_via_service(name="jobs"))
    objects = synth(chart)
    web_pods = find(objects, "Deployment", "web")["spec"]["selector"]["matchLabels"]
    assert find(objects, "NetworkPolicy", "redis-from-web")["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": web_pods}}
    ]
    assert find(objects, "NetworkPolicy", "web-to-redis")["spec"]["podSelector"] == {
        "matchLabels": web_pods
    }
    assert find(objects, "NetworkPolicy", "redis-from-batch")["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"role": "batch"}}}
    ]
    (from_jobs,) = [p for p in policies(objects) if p["metadata"]["name"] == "redis-from-jobs-jobs"]
    assert from_jobs["spec"]["ingress"][0]["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "jobs"}
    }
    assert len([p for p in policies(objects) if p["metadata"]["name"] == "redis-from-web"]) == 1


def test_fails_to_allow_something_that_selects_no_pods(chart: cdk8s.Chart) -> None:
    with pytest.raises(TypeError, match=r"peer=test/Config is not allowed: expected a journal"):
        Redis(chart, "Redis").allow_from(kplus.ConfigMap(chart, "Config"))


def test_kplus_ingress_backend_from_a_journal_service(chart: cdk8s.Chart) -> None:
    journal = JournalService(chart, "Journal", with_ingress=False)
    kplus.Ingress(
        chart,
        "Edge",
        metadata=cdk8s.ApiObjectMetadata(name="edge"),
        default_backend=kplus.IngressBackend.from_service(journal.api.service),
    )
    backend = find(synth(chart), "Ingress", "edge")["spec"]["defaultBackend"]
    assert backend == {"service": {"name": "frontend", "port": {"number": 8080}}}
    assert journal.api.service.name == "frontend" and journal.api.service.port == 8080


def test_path_ingress_routes_to_a_kplus_service(chart: cdk8s.Chart) -> None:
    service = deployment(chart).expose_via_service(
        name="web", ports=[kplus.ServicePort(port=80, target_port=8080)]
    )
    ingress = PathIngress(chart, "Ingress")
    ingress.route("/", service)
    objects = synth(chart)
    paths = find(objects, "Ingress", "frontend-ingress")["spec"]["rules"][0]["http"]["paths"]
    assert paths[0]["backend"] == {"service": {"name": "web", "port": {"number": 80}}}
    policy = find(objects, "NetworkPolicy", "web-from-frontend-ingress")["spec"]
    assert policy["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_fails_to_route_an_external_name_service_saying_what_it_is(chart: cdk8s.Chart) -> None:
    external = kplus.Service(
        chart,
        "External",
        type=kplus.ServiceType.EXTERNAL_NAME,
        external_name="db.example.com",
        ports=[kplus.ServicePort(port=80)],
    )
    with pytest.raises(TypeError) as refused:
        PathIngress(chart, "Edge").route("/", external)
    assert str(refused.value) == (
        "backend for path '/'=Service test/External is not allowed: it is an ExternalName "
        "Service (no port in its manifest, no pods to let the traffic reach); expected a "
        "Service that selects pods, with one port"
    )


def test_fails_to_route_a_kplus_workload_that_has_no_service(chart: cdk8s.Chart) -> None:
    with pytest.raises(TypeError, match=r"expose it with expose_via_service\(\)"):
        PathIngress(chart, "Ingress").route("/", deployment(chart))


def test_the_redis_password_is_a_kplus_secret_with_its_key(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis")
    assert redis.password_secret.name == "redis-passwd"
    assert redis.password.key == "passwd"
    web = deployment(chart)
    web.containers[0].env.add_variable(
        "FROM_KPLUS",
        kplus.EnvValue.from_secret_value(
            kplus.SecretValue(secret=redis.password_secret, key=redis.password.key)
        ),
    )
    env = find(synth(chart), "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert env["env"] == [
        {
            "name": "FROM_KPLUS",
            "valueFrom": {"secretKeyRef": {"key": "passwd", "name": "redis-passwd"}},
        }
    ]


def test_redis_takes_its_password_as_a_kplus_secret_value(chart: cdk8s.Chart) -> None:
    team = kplus.Secret.from_secret_name(chart, "TeamSecret", "team-redis")
    redis = Redis(chart, "Redis", password=kplus.SecretValue(secret=team, key="token"))
    assert (redis.password.name, redis.password.key) == ("team-redis", "token")
    JournalService(
        chart, "Journal", redis_password=kplus.SecretValue(secret=team, key="token"), name="j"
    )
    objects = synth(chart)
    for redis_name in ("redis", "j-redis"):
        pod = find(objects, "StatefulSet", redis_name)["spec"]["template"]["spec"]
        volume = next(v for v in pod["volumes"] if v["name"] == "password")["secret"]
        assert (volume["secretName"], volume["items"]) == (
            "team-redis",
            [{"key": "token", "path": "token"}],
        )


def test_a_kplus_secret_the_redis_pods_cannot_read_is_refused(chart: cdk8s.Chart) -> None:
    """A Secret made in the app for another namespace, or without the key, would leave every
    Redis pod in CreateContainerConfigError: the construct refuses it."""
    other = cdk8s.Chart(chart.node.scope, "other", namespace="other")  # type: ignore[arg-type]
    elsewhere = kplus.Secret(other, "Elsewhere", string_data={"token": "not-a-secret"})
    with pytest.raises(ValueError, match=r"^redis_password: Secret ") as refused:
        JournalService(
            chart, "Journal", redis_password=kplus.SecretValue(secret=elsewhere, key="token")
        )
    assert str(refused.value) == (
        f"redis_password: Secret {elsewhere.name!r} is in namespace 'other', which the pods of "
        "namespace 'test' cannot read: expected a Secret of their namespace"
    )
    here = kplus.Secret(chart, "Here", string_data={"token": "not-a-secret"})
    with pytest.raises(ValueError, match=r"^password: key ") as refused:
        Redis(chart, "Redis", password=kplus.SecretValue(secret=here, key="passwd"))
    assert str(refused.value) == (
        f"password: key 'passwd' is not allowed: Secret {here.name!r} has no such key (expected "
        "a key of its string data)"
    )
    redis = Redis(chart, "Ok", name="ok", password=kplus.SecretValue(secret=here, key="token"))
    assert (redis.password.name, redis.password.key) == (here.name, "token")


def test_a_kplus_secret_without_its_key_is_refused_naming_what_to_give(
    chart: cdk8s.Chart,
) -> None:
    team = kplus.Secret.from_secret_name(chart, "TeamSecret", "team-redis")
    with pytest.raises(TypeError) as refused:
        JournalService(chart, "Journal", redis_password=team)  # type: ignore[arg-type]
    assert str(refused.value).startswith("redis_password=<")
    assert str(refused.value).endswith(
        "is not allowed: expected journal_k8s.ExistingSecret or kplus.SecretValue (a Secret "
        "and the key that holds the value)"
    )


def test_connect_gives_a_kplus_container_what_the_api_gets(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis")
    api = ApiFrontend(chart, "Api", redis=redis)
    web = deployment(chart)
    redis.connect(web, web.containers[0])
    objects = synth(chart)
    theirs = find(objects, "Deployment", "web")["spec"]["template"]["spec"]
    ours = find(objects, "Deployment", api.name)["spec"]["template"]["spec"]
    wanted = ("REDIS_READ_HOST", "REDIS_WRITE_HOST", "REDIS_PORT", "REDIS_PASSWORD_FILE")
    assert [e for e in theirs["containers"][0]["env"] if e["name"] in wanted] == [
        e for e in ours["containers"][0]["env"] if e["name"] in wanted
    ]
    assert not [e for e in theirs["containers"][0]["env"] if "valueFrom" in e]
    (mount,) = theirs["containers"][0]["volumeMounts"]
    assert mount["mountPath"] == "/etc/redis-passwd" and mount["readOnly"] is True
    (volume,) = theirs["volumes"]
    assert volume["secret"] == {
        "defaultMode": 0o440,
        "items": [{"key": "passwd", "path": "passwd"}],
        "secretName": "redis-passwd",
    }
    assert find(objects, "NetworkPolicy", "redis-from-web")


def test_connect_gives_every_container_of_a_workload_one_password_volume(
    chart: cdk8s.Chart,
) -> None:
    # An app and its sidecar both connected, the app twice: one volume, one mount each.
    redis = Redis(chart, "Redis")
    web = deployment(chart)
    sidecar = web.add_container(image="team/sidecar:1.0", name="sidecar")
    redis.connect(web, web.containers[0])
    redis.connect(web, sidecar)
    redis.connect(web, web.containers[0])
    spec = find(synth(chart), "Deployment", "web")["spec"]["template"]["spec"]
    assert [v["name"] for v in spec["volumes"]] == ["redis-password"]
    for container in spec["containers"]:
        assert [m["mountPath"] for m in container["volumeMounts"]] == ["/etc/redis-passwd"]
        names = [e["name"] for e in container["env"]]
        assert names.count("REDIS_WRITE_HOST") == 1, container["name"]


def test_connect_refuses_a_second_redis_in_one_container(chart: cdk8s.Chart) -> None:
    blue, green = Redis(chart, "Blue", name="blue"), Redis(chart, "Green", name="green")
    web = deployment(chart)
    blue.connect(web, web.containers[0])
    with pytest.raises(ValueError, match=r"^container='main'") as refused:
        green.connect(web, web.containers[0])
    assert str(refused.value) == (
        "container='main' is not allowed: it already has the connection of the Redis at "
        "'blue-write', and one container holds one Redis connection (REDIS_* variables, the "
        "password file in /etc/redis-passwd); connect Redis test/Green to another container"
    )
    # Another container of the workload takes the second Redis.
    other = web.add_container(image="team/other:1.0", name="other")
    green.connect(web, other)
    spec = find(synth(chart), "Deployment", "web")["spec"]["template"]["spec"]
    assert [v["name"] for v in spec["volumes"]] == ["blue-password", "green-password"]


def restricted(chart: cdk8s.Chart) -> None:
    # Room for the journal and a kplus Deployment at their most (the quota is checked).
    quota = Quota(cpu="16", memory="16Gi", storage="40Gi", pods=16)
    RestrictedNamespace(chart, "Namespace", name="test", quota=quota)


def test_fails_on_a_kplus_workload_that_is_not_restricted_naming_it_and_the_field(
    chart: cdk8s.Chart,
) -> None:
    restricted(chart)
    deployment(chart)
    with pytest.raises(RuntimeError) as failure:
        synth(chart)
    message = str(failure.value)
    assert (
        "[test/Web/Resource] Deployment test/web: spec.template.spec.containers[0]."
        "securityContext.capabilities.drop: [] is not allowed (Pod Security Standard "
        "'restricted'): expected a list containing 'ALL' in namespace 'test' (security_context="
        "restricted_container_security() gives a sidecar or init container the restricted "
        "settings, adopt_restricted a cdk8s-plus workload)" in message
    )
    assert "seccompProfile.type: not set" in message


def test_a_kplus_workload_that_adopts_the_restricted_settings_passes(chart: cdk8s.Chart) -> None:
    restricted(chart)
    JournalService(chart, "Journal")
    web = deployment(chart)
    adopt_restricted(web, uid=10001)
    spec = find(synth(chart), "Deployment", "web")["spec"]["template"]["spec"]
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_adopt_restricted_keeps_a_container_s_own_security_settings(chart: cdk8s.Chart) -> None:
    restricted(chart)
    writable = kplus.ContainerSecurityContextProps(read_only_root_filesystem=False, user=2000)
    web = deployment(chart, security=writable)
    adopt_restricted(web, uid=10001)
    spec = find(synth(chart), "Deployment", "web")["spec"]["template"]["spec"]
    assert spec["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": False,
        "runAsNonRoot": True,
        "runAsUser": 2000,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["securityContext"]["runAsUser"] == 10001


def test_adopt_restricted_keeps_a_setting_restricted_forbids_and_the_synth_names_it(
    chart: cdk8s.Chart,
) -> None:
    restricted(chart)
    root = kplus.ContainerSecurityContextProps(ensure_non_root=False)
    web = deployment(chart, security=root)
    adopt_restricted(web, uid=10001)
    with pytest.raises(RuntimeError, match=r"containers\[0\]\.securityContext\.runAsNonRoot"):
        synth(chart)


def every_workload_kind(chart: cdk8s.Chart) -> dict[str, kplus.AbstractPod]:
    container = [kplus.ContainerProps(image="team/task:1.0", name="task")]
    workloads: dict[str, kplus.AbstractPod] = {
        "Deployment": kplus.Deployment(chart, "D", containers=container),
        "StatefulSet": kplus.StatefulSet(
            chart,
            "S",
            containers=container,
            service=kplus.Service(chart, "SService", ports=[kplus.ServicePort(port=80)]),
        ),
        "DaemonSet": kplus.DaemonSet(chart, "Ds", containers=container),
        "Job": kplus.Job(chart, "J", containers=container),
        "CronJob": kplus.CronJob(chart, "C", containers=container, schedule=cdk8s.Cron.daily()),
        "Pod": kplus.Pod(chart, "P", containers=container),
    }
    for workload in workloads.values():
        workload.add_init_container(image="team/init:1.0", name="init")
    return workloads


def test_every_kplus_workload_kind_adopts_the_restricted_settings(chart: cdk8s.Chart) -> None:
    restricted(chart)
    workloads = every_workload_kind(chart)
    for workload in workloads.values():
        adopt_restricted(workload, uid=10001, gid=10002)
    objects = synth(chart)  # the restricted check passes: no kind is left out
    for kind, workload in workloads.items():
        spec = find(objects, kind, workload.name)["spec"]
        if kind == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        pod = spec if kind == "Pod" else spec["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 10001, kind
        assert pod["securityContext"]["fsGroup"] == 10002, kind
        for container in [*pod["containers"], *pod["initContainers"]]:
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, kind
        assert set(pod) >= {"containers", "initContainers", "securityContext"}


def test_fails_to_adopt_what_is_not_a_kplus_workload(chart: cdk8s.Chart) -> None:
    with pytest.raises(TypeError, match=r"workload=.* is not allowed: expected one of "):
        adopt_restricted(kplus.ConfigMap(chart, "Config"), uid=10001)  # type: ignore[arg-type]


def test_the_restricted_check_ignores_other_namespaces(chart: cdk8s.Chart) -> None:
    restricted(chart)
    deployment(cdk8s.Chart(chart.node.scope, "free", namespace="free"))  # type: ignore[arg-type]
    assert synth(chart)


def test_fails_to_adopt_root() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    with pytest.raises(ValueError, match="uid=0 is not allowed"):
        adopt_restricted(deployment(chart), uid=0)


def test_mypy_flags_a_misspelt_body_field_in_the_library(tmp_path: Path) -> None:
    library = tmp_path / "journal_k8s"
    shutil.copytree(ROOT / "constructs" / "journal_k8s", library)
    source = (library / "redis.py").read_text()
    assert "mount_path=DATA_DIR" in source
    (library / "redis.py").write_text(source.replace("mount_path=DATA_DIR", "mount_pth=DATA_DIR"))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "journal_k8s"],
        cwd=tmp_path,
        env={"MYPYPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        text=True,
        capture_output=True,
    )
    assert result.returncode == 1, result.stdout
    assert (
        "redis.py" in result.stdout and 'Unexpected keyword argument "mount_pth"' in result.stdout
    )


def l1_deployment(scope: Construct, name: str) -> k8s.KubeDeployment:
    labels = {"app": name}
    return k8s.KubeDeployment(
        scope,
        name.title(),
        metadata=k8s.ObjectMeta(name=name),
        spec=k8s.DeploymentSpec(
            selector=k8s.LabelSelector(match_labels=labels),
            template=k8s.PodTemplateSpec(
                metadata=k8s.ObjectMeta(labels={**labels, "extra": "x"}),
                spec=k8s.PodSpec(containers=[k8s.Container(name="w", image="team/w:1")]),
            ),
        ),
    )


def test_redis_allows_a_plain_l1_workload_by_its_selector_in_its_namespace(
    chart: cdk8s.Chart,
) -> None:
    redis = Redis(chart, "Redis")
    jobs = cdk8s.Chart(chart.node.scope, "jobs", namespace="jobs")  # type: ignore[arg-type]
    worker = l1_deployment(jobs, "worker")
    redis.allow_from(worker)
    redis.allow_from(worker)  # the same pods: nothing more
    objects = synth(chart)
    inbound = find(objects, "NetworkPolicy", "redis-from-jobs-worker")
    assert inbound["spec"]["ingress"][0]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "jobs"}},
            "podSelector": {"matchLabels": {"app": "worker"}},
        }
    ]
    # The worker's egress policy lands in the worker's own chart, as for a kplus workload.
    outbound = find(synth(jobs), "NetworkPolicy", "worker-to-test-redis")
    assert outbound["metadata"]["namespace"] == "jobs"
    assert outbound["spec"]["podSelector"] == {"matchLabels": {"app": "worker"}}
    assert not [o for o in objects if o["metadata"]["name"] == "worker-to-test-redis"]
    assert len(policies(objects)) == len({p["metadata"]["name"] for p in policies(objects)})


def test_redis_allows_l1_jobs_cron_jobs_and_pods_by_their_pod_labels(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis")
    template = k8s.PodTemplateSpec(
        metadata=k8s.ObjectMeta(labels={"role": "batch"}),
        spec=k8s.PodSpec(containers=[k8s.Container(name="b", image="team/b:1")]),
    )
    job = k8s.JobSpec(template=template)
    redis.allow_from(k8s.KubeJob(chart, "Job", metadata=k8s.ObjectMeta(name="job"), spec=job))
    redis.allow_from(
        k8s.KubeCronJob(
            chart,
            "Cron",
            metadata=k8s.ObjectMeta(name="cron"),
            spec=k8s.CronJobSpec(schedule="@daily", job_template=k8s.JobTemplateSpec(spec=job)),
        )
    )
    redis.allow_from(
        k8s.KubePod(
            chart,
            "Pod",
            metadata=k8s.ObjectMeta(name="pod", labels={"role": "single"}),
            spec=template.spec,
        )
    )
    objects = synth(chart)
    for name, labels in (("job", {"role": "batch"}), ("pod", {"role": "single"})):
        policy = find(objects, "NetworkPolicy", f"redis-from-{name}")
        assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": labels}}]
    # The CronJob's pods are the Job's: the same selector, one policy.
    assert not [p for p in policies(objects) if p["metadata"]["name"] == "redis-from-cron"]


def test_redis_allows_any_workload_construct_by_its_pod_labels(chart: cdk8s.Chart) -> None:
    redis = Redis(chart, "Redis")
    other = cdk8s.Chart(chart.node.scope, "other", namespace="other")  # type: ignore[arg-type]
    peer: Workload = Backend(other, "Batch", name="batch")
    redis.allow_from(peer)
    inbound = find(synth(chart), "NetworkPolicy", "redis-from-other-batch")
    assert inbound["spec"]["ingress"][0]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "batch"}},
        }
    ]
    assert find(synth(other), "NetworkPolicy", "batch-to-test-redis")


@pytest.mark.parametrize(
    ("peer", "error", "message"),
    [
        (
            lambda c: k8s.KubeConfigMap(c, "Config", metadata=k8s.ObjectMeta(name="c")),
            TypeError,
            r"peer=test/Config \(a ConfigMap\) is not allowed: expected a journal construct or",
        ),
        (
            lambda c: k8s.KubePod(c, "Pod", metadata=k8s.ObjectMeta(name="bare")),
            ValueError,
            r"peer=test/Pod is not allowed: Pod 'bare' selects its pods by no label",
        ),
    ],
)
def test_fails_to_allow_an_l1_object_that_names_no_pods(
    chart: cdk8s.Chart, peer: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Redis(chart, "Redis").allow_from(peer(chart))


def test_mypy_strict_takes_a_workload_and_an_l1_workload_as_peers(tmp_path: Path) -> None:
    app = tmp_path / "peers.py"
    app.write_text(
        "import cdk8s\n"
        "from cdk8s_plus_27 import k8s\n"
        "from journal_k8s import Redis, Workload\n\n"
        "def relate(redis: Redis, team: Workload, raw: k8s.KubeDeployment, api: cdk8s.ApiObject)"
        " -> None:\n"
        "    redis.allow_from(team)\n"
        "    redis.allow_from(raw)\n"
        "    redis.allow_from(api)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), str(app)],
        env={**os.environ, "MYPYPATH": str(ROOT / "constructs")},
        text=True,
        capture_output=True,
    )
    assert result.returncode == 0, result.stdout


def test_same_named_peers_of_two_namespaces_are_two_peers(chart: cdk8s.Chart) -> None:
    """A ``worker`` in team-a and one in team-b both reach one Redis: each gets its own pair
    of policies (their ids and names collided)."""
    redis = Redis(chart, "Redis")
    for team in ("team-a", "team-b"):
        other = cdk8s.Chart(chart.node.scope, team, namespace=team)  # type: ignore[arg-type]
        redis.allow_from(deployment(other, "worker"))
        outbound = find(synth(other), "NetworkPolicy", "worker-to-test-redis")
        assert outbound["metadata"]["namespace"] == team
    objects = synth(chart)
    for team in ("team-a", "team-b"):
        inbound = find(objects, "NetworkPolicy", f"redis-from-{team}-worker")
        assert inbound["spec"]["ingress"][0]["from"][0]["namespaceSelector"] == {
            "matchLabels": {"kubernetes.io/metadata.name": team}
        }


def test_two_same_named_redis_of_two_namespaces_mount_their_own_secrets() -> None:
    """Two containers of one Deployment connected to two Redis both named ``redis`` (in r1
    and r2, with their own Secrets): each mounts its own Redis's Secret."""
    app = cdk8s.App()
    web = cdk8s.Chart(app, "web", namespace="web", disable_resource_name_hashes=True)
    deployment = kplus.Deployment(
        web,
        "W",
        metadata=cdk8s.ApiObjectMetadata(name="w"),
        containers=[
            kplus.ContainerProps(name=name, image="team/w:1.0", port_number=8080)
            for name in ("a", "b")
        ],
    )
    for namespace, container in zip(("r1", "r2"), deployment.containers, strict=True):
        chart = cdk8s.Chart(app, namespace, namespace=namespace, disable_resource_name_hashes=True)
        redis = Redis(chart, "Redis", password=ExistingSecret(name=f"{namespace}-pass", key="p"))
        redis.connect(deployment, container)
    (manifest,) = [o for o in synth(web) if o["kind"] == "Deployment"]
    spec = manifest["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"]}
    for container, namespace in zip(spec["containers"], ("r1", "r2"), strict=True):
        (mount,) = container["volumeMounts"]
        assert secrets[mount["name"]] == f"{namespace}-pass"


def test_connect_refuses_a_container_of_another_workload(chart: cdk8s.Chart) -> None:
    # The variables would go to one workload and the policies to another.
    redis = Redis(chart, "Redis")
    web, other = deployment(chart, "web"), deployment(chart, "other")
    with pytest.raises(ValueError, match=r"container='main' is not allowed: it is not a container"):
        redis.connect(web, other.containers[0])
    redis.connect(web, web.containers[0])
