"""Synth-time checks: the real environments pass; each rule rejects its broken fixture."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cdk8s
import pytest

import app
from journal_k8s import ExistingSecret, Redis
from journal_tools import synth
from journal_tools.checks import PATH_HASH_LABEL, problems
from journal_tools.manifests import from_yaml
from journal_tools.values import Environment, load_environments
from support import ROOT, Manifest, find

EXTERNAL = {"redis-passwd"}
DEPLOYMENT = "Deployment journal-dev/frontend"
STATIC = "Deployment journal-dev/fileserver"
CONTAINER = "spec.template.spec.containers[0]"


@pytest.fixture(scope="module")
def environments() -> dict[str, list[Manifest]]:
    """Every environment's manifests, as the synth renders them (its checks included)."""
    rendered = synth.render(load_environments(ROOT / "environments"), app.build)
    return {name: from_yaml(text) for name, text in rendered.items()}


@pytest.fixture
def dev(environments: dict[str, list[Manifest]]) -> list[Manifest]:
    """A private copy of the dev manifests, for a test to break."""
    return copy.deepcopy(environments["dev"])


def pod_spec(objects: list[Manifest], kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = find(objects, kind, name)["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_real_environment_passes(environments: dict[str, list[Manifest]], name: str) -> None:
    assert problems(environments[name], external_secrets=EXTERNAL) == []


def test_fails_without_the_external_secret_declared(dev: list[Manifest]) -> None:
    assert problems(dev) == [
        "StatefulSet journal-dev/redis: spec.template.spec.volumes[1].secret.secretName: "
        "'redis-passwd' is not a Secret of this synth or a declared external Secret: "
        "expected one of []",
        f"{DEPLOYMENT}: spec.template.spec.volumes[1].secret.secretName: 'redis-passwd' is not "
        "a Secret of this synth or a declared external Secret: expected one of []",
    ]


# Services


def test_fails_service_selecting_no_pods(dev: list[Manifest]) -> None:
    find(dev, "Service", "fileserver")["spec"]["selector"] = {"app": "nginx"}
    assert problems(dev, external_secrets=EXTERNAL) == [
        "Service journal-dev/fileserver: spec.selector: {'app': 'nginx'} selects the pods of 0 "
        "workloads (none): expected the pods of exactly one workload in the same namespace"
    ]


def test_fails_service_selecting_several_workloads(dev: list[Manifest]) -> None:
    find(dev, "Service", "frontend")["spec"]["selector"] = {"app.kubernetes.io/part-of": "journal"}
    assert problems(dev, external_secrets=EXTERNAL) == [
        "Service journal-dev/frontend: spec.selector: {'app.kubernetes.io/part-of': 'journal'} "
        "selects the pods of 3 workloads (StatefulSet journal-dev/redis, "
        f"{DEPLOYMENT}, {STATIC}): expected the pods of exactly one workload in the same namespace"
    ]


def test_fails_service_selecting_pods_of_another_namespace(dev: list[Manifest]) -> None:
    find(dev, "Deployment", "fileserver")["metadata"]["namespace"] = "elsewhere"
    assert (
        "Service journal-dev/fileserver: spec.selector: {'app.kubernetes.io/name': 'fileserver', "
        "'app.kubernetes.io/part-of': 'journal'} selects the pods of 0 workloads (none): "
        "expected the pods of exactly one workload in the same namespace"
    ) in problems(dev, external_secrets=EXTERNAL)


def test_write_service_selects_pod_zero_by_its_controller_label(dev: list[Manifest]) -> None:
    selector = find(dev, "Service", "redis-write")["spec"]["selector"]
    assert selector["statefulset.kubernetes.io/pod-name"] == "redis-0"
    assert problems(dev, external_secrets=EXTERNAL) == []


def test_fails_write_service_selecting_a_pod_beyond_the_replicas(dev: list[Manifest]) -> None:
    find(dev, "StatefulSet", "redis")["spec"]["replicas"] = 1
    selector = find(dev, "Service", "redis-write")["spec"]["selector"]
    selector["statefulset.kubernetes.io/pod-name"] = "redis-1"
    assert problems(dev, external_secrets=EXTERNAL) == [
        f"Service journal-dev/redis-write: spec.selector: {selector!r} selects the pods of 0 "
        "workloads (none): expected the pods of exactly one workload in the same namespace"
    ]


@pytest.mark.parametrize("target", ["web", 80])
def test_fails_target_port_not_a_container_port(dev: list[Manifest], target: str | int) -> None:
    find(dev, "Service", "fileserver")["spec"]["ports"][0]["targetPort"] = target
    assert problems(dev, external_secrets=EXTERNAL) == [
        f"Service journal-dev/fileserver: spec.ports[0].targetPort: {target!r} is not a "
        f"container port of {STATIC}: expected one of ['8080', 'http']"
    ]


def test_fails_missing_target_port_defaults_to_the_service_port(dev: list[Manifest]) -> None:
    del find(dev, "Service", "fileserver")["spec"]["ports"][0]["targetPort"]
    assert problems(dev, external_secrets=EXTERNAL) == [
        "Service journal-dev/fileserver: spec.ports[0].targetPort: 80 is not a container port "
        f"of {STATIC}: expected one of ['8080', 'http']"
    ]


# Ingress


def ingress_backend(objects: list[Manifest], index: int) -> dict[str, Any]:
    paths = find(objects, "Ingress", "frontend-ingress")["spec"]["rules"][0]["http"]["paths"]
    backend: dict[str, Any] = paths[index]["backend"]["service"]
    return backend


def test_fails_ingress_backend_naming_a_service_nothing_creates(dev: list[Manifest]) -> None:
    ingress_backend(dev, 1)["name"] = "nginx"  # the book's `/` backend
    assert problems(dev, external_secrets=EXTERNAL) == [
        "Ingress journal-dev/frontend-ingress: spec.rules[0].http.paths[1].backend.service.name: "
        "'nginx' is not a Service of this synth in namespace 'journal-dev': expected one of "
        "['fileserver', 'frontend', 'redis', 'redis-headless', 'redis-write']"
    ]


def test_fails_ingress_backend_port_the_service_lacks(dev: list[Manifest]) -> None:
    ingress_backend(dev, 0).update(name="fileserver", port={"number": 8080})  # the other edition
    assert problems(dev, external_secrets=EXTERNAL) == [
        "Ingress journal-dev/frontend-ingress: spec.rules[0].http.paths[0].backend.service.port: "
        "{'number': 8080} is not a port of Service journal-dev/fileserver: expected a number or "
        "name among [80, 'http']"
    ]


def test_ingress_backend_port_by_name(dev: list[Manifest]) -> None:
    ingress_backend(dev, 1)["port"] = {"name": "http"}
    assert problems(dev, external_secrets=EXTERNAL) == []


def test_fails_ingress_backend_port_name_the_service_lacks(dev: list[Manifest]) -> None:
    ingress_backend(dev, 1)["port"] = {"name": "https"}
    assert problems(dev, external_secrets=EXTERNAL) == [
        "Ingress journal-dev/frontend-ingress: spec.rules[0].http.paths[1].backend.service.port: "
        "{'name': 'https'} is not a port of Service journal-dev/fileserver: expected a number or "
        "name among [80, 'http']"
    ]


def test_fails_ingress_default_backend_naming_a_missing_service(dev: list[Manifest]) -> None:
    ingress = find(dev, "Ingress", "frontend-ingress")
    ingress["spec"]["defaultBackend"] = {"service": {"name": "static", "port": {"number": 80}}}
    assert problems(dev, external_secrets=EXTERNAL)[0].startswith(
        "Ingress journal-dev/frontend-ingress: spec.defaultBackend.service.name: 'static' is not "
        "a Service of this synth"
    )


# StatefulSet governing Service


def test_fails_stateful_set_governed_by_a_cluster_ip_service(dev: list[Manifest]) -> None:
    find(dev, "StatefulSet", "redis")["spec"]["serviceName"] = "redis"  # the book's defect 5
    assert problems(dev, external_secrets=EXTERNAL) == [
        "StatefulSet journal-dev/redis: spec.serviceName: 'redis' is not allowed (not headless): "
        "expected the name of a headless Service (clusterIP: None) of this synth, which gives "
        "every pod its DNS name"
    ]


def test_fails_stateful_set_governed_by_a_missing_service(dev: list[Manifest]) -> None:
    find(dev, "StatefulSet", "redis")["spec"]["serviceName"] = "redis-write-headless"
    assert problems(dev, external_secrets=EXTERNAL) == [
        "StatefulSet journal-dev/redis: spec.serviceName: 'redis-write-headless' is not allowed "
        "(missing): expected the name of a headless Service (clusterIP: None) of this synth, "
        "which gives every pod its DNS name"
    ]


# ConfigMap and Secret references


def test_fails_config_map_volume_naming_a_missing_config_map(dev: list[Manifest]) -> None:
    pod_spec(dev, "Deployment", "fileserver")["volumes"][0]["configMap"]["name"] = "nginx-conf"
    assert problems(dev, external_secrets=EXTERNAL) == [
        f"{STATIC}: spec.template.spec.volumes[0].configMap.name: 'nginx-conf' is not a "
        "ConfigMap of this synth or a declared external Secret: expected one of "
        "['fileserver-nginx', 'frontend-config', 'redis-config']"
    ]


def test_fails_config_map_volume_item_naming_a_missing_key(dev: list[Manifest]) -> None:
    pod_spec(dev, "StatefulSet", "redis")["volumes"][0]["configMap"]["items"][0]["key"] = "run.sh"
    assert problems(dev, external_secrets=EXTERNAL) == [
        "StatefulSet journal-dev/redis: spec.template.spec.volumes[0].configMap.items[0].key: "
        "'run.sh' is not a key of ConfigMap journal-dev/redis-config: expected one of "
        "['launch.sh', 'probe.sh', 'redis.conf']"
    ]


def test_fails_config_map_key_ref_naming_a_missing_key(dev: list[Manifest]) -> None:
    env = pod_spec(dev, "Deployment", "frontend")["containers"][0]["env"][0]
    env["valueFrom"]["configMapKeyRef"]["key"] = "journal-entries"
    assert problems(dev, external_secrets=EXTERNAL) == [
        f"{DEPLOYMENT}: {CONTAINER}.env[0].valueFrom.configMapKeyRef.key: 'journal-entries' is "
        "not a key of ConfigMap journal-dev/frontend-config: expected one of ['journalEntries']"
    ]


def test_fails_secret_key_ref_naming_an_undeclared_secret(dev: list[Manifest]) -> None:
    env = pod_spec(dev, "Deployment", "frontend")["containers"][0]["env"]
    reference = {"secretKeyRef": {"name": "redis-password", "key": "passwd"}}
    env.append({"name": "TOKEN", "valueFrom": reference})
    assert problems(dev, external_secrets=EXTERNAL) == [
        f"{DEPLOYMENT}: {CONTAINER}.env[5].valueFrom.secretKeyRef.name: 'redis-password' is not "
        "a Secret of this synth or a declared external Secret: expected one of ['redis-passwd']"
    ]


def test_fails_env_from_naming_missing_objects(dev: list[Manifest]) -> None:
    container = pod_spec(dev, "Deployment", "frontend")["containers"][0]
    container["envFrom"] = [{"configMapRef": {"name": "settings"}}, {"secretRef": {"name": "db"}}]
    assert problems(dev, external_secrets=EXTERNAL) == [
        f"{DEPLOYMENT}: {CONTAINER}.envFrom[0].configMapRef.name: 'settings' is not a ConfigMap "
        "of this synth or a declared external Secret: expected one of "
        "['fileserver-nginx', 'frontend-config', 'redis-config']",
        f"{DEPLOYMENT}: {CONTAINER}.envFrom[1].secretRef.name: 'db' is not a Secret of this "
        "synth or a declared external Secret: expected one of ['redis-passwd']",
    ]


def test_fails_projected_volume_naming_missing_objects(dev: list[Manifest]) -> None:
    sources = [{"configMap": {"name": "settings"}}, {"secret": {"name": "db"}}]
    pod_spec(dev, "Deployment", "frontend")["volumes"].append(
        {"name": "all", "projected": {"sources": sources}}
    )
    assert problems(dev, external_secrets=EXTERNAL) == [
        f"{DEPLOYMENT}: spec.template.spec.volumes[2].projected.sources[0].configMap.name: "
        "'settings' is not a ConfigMap of this synth or a declared external Secret: expected "
        "one of ['fileserver-nginx', 'frontend-config', 'redis-config']",
        f"{DEPLOYMENT}: spec.template.spec.volumes[2].projected.sources[1].secret.name: 'db' is "
        "not a Secret of this synth or a declared external Secret: expected one of "
        "['redis-passwd']",
    ]


# Names, labels, duplicates


def config_map(name: str, labels: dict[str, Any] | None = None) -> Manifest:
    metadata = {"name": name, "namespace": "journal-dev", "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            config_map("Frontend_Config"),
            "ConfigMap journal-dev/Frontend_Config: metadata.name: 'Frontend_Config' is not "
            "allowed: expected a DNS-1123 subdomain of at most 253 characters",
        ),
        (
            config_map("a" * 254),
            f"ConfigMap journal-dev/{'a' * 254}: metadata.name: {'a' * 254!r} is not allowed: "
            "expected a DNS-1123 subdomain of at most 253 characters",
        ),
        (
            {**config_map("x"), "kind": "Service", "metadata": {"name": "1-api"}},
            "Service 1-api: metadata.name: '1-api' is not allowed: expected a DNS-1035 label "
            "of at most 63 characters",
        ),
        (
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "journal.dev"}},
            "Namespace journal.dev: metadata.name: 'journal.dev' is not allowed: expected a "
            "DNS-1123 label of at most 63 characters",
        ),
    ],
    ids=["subdomain", "too-long", "service-label", "namespace-label"],
)
def test_fails_invalid_names(dev: list[Manifest], obj: Manifest, expected: str) -> None:
    assert expected in problems([*dev, obj], external_secrets=EXTERNAL)


LABEL_VALUE = (
    "expected a string of at most 63 characters (alphanumerics, '-', '_', '.', starting and "
    "ending with an alphanumeric)"
)
LABEL_KEY = (
    "expected an optional DNS subdomain prefix (at most 253 characters) and '/', then a name "
    "of at most 63 characters (alphanumerics, '-', '_', '.', starting and ending with an "
    "alphanumeric)"
)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"tier": "x" * 64}, f"the label value {'x' * 64!r} is not allowed: {LABEL_VALUE}"),
        ({"tier": "-web"}, f"the label value '-web' is not allowed: {LABEL_VALUE}"),
        ({"tier": 1}, f"the label value 1 is not allowed: {LABEL_VALUE}"),
        ({"web tier": "a"}, f"the label key 'web tier' is not allowed: {LABEL_KEY}"),
        (
            {"Example.com/tier": "a"},
            f"the label key 'Example.com/tier' is not allowed: {LABEL_KEY}",
        ),
        ({"y" * 64: "a"}, f"the label key {'y' * 64!r} is not allowed: {LABEL_KEY}"),
    ],
    ids=["value-too-long", "value-start", "value-number", "key-space", "key-prefix", "key-long"],
)
def test_fails_invalid_labels(dev: list[Manifest], labels: dict[str, Any], expected: str) -> None:
    (key,) = labels
    assert problems([*dev, config_map("extra", labels)], external_secrets=EXTERNAL) == [
        f"ConfigMap journal-dev/extra: metadata.labels[{key!r}]: {expected}"
    ]


def test_fails_invalid_selector_label_in_match_labels(dev: list[Manifest]) -> None:
    find(dev, "PodDisruptionBudget", "frontend")["spec"]["selector"]["matchLabels"]["tier"] = "_"
    assert problems(dev, external_secrets=EXTERNAL) == [
        "PodDisruptionBudget journal-dev/frontend: spec.selector.matchLabels['tier']: "
        f"the label value '_' is not allowed: {LABEL_VALUE}"
    ]


def test_fails_selector_built_on_the_construct_path_hash(dev: list[Manifest]) -> None:
    deployment = find(dev, "Deployment", "fileserver")
    deployment["spec"]["selector"]["matchLabels"][PATH_HASH_LABEL] = "c8d2a1b3e4"
    deployment["spec"]["template"]["metadata"]["labels"][PATH_HASH_LABEL] = "c8d2a1b3e4"
    hash_label = (
        f"the label {PATH_HASH_LABEL!r} is not allowed: it holds a hash of the construct path, "
        "which changes when a construct is renamed; use explicit app.kubernetes.io/* labels"
    )
    assert problems(dev, external_secrets=EXTERNAL) == [
        f"{STATIC}: spec.selector.matchLabels[{PATH_HASH_LABEL!r}]: {hash_label}",
        f"{STATIC}: spec.template.metadata.labels[{PATH_HASH_LABEL!r}]: {hash_label}",
    ]


def test_fails_duplicate_objects(dev: list[Manifest]) -> None:
    twin = copy.deepcopy(find(dev, "ConfigMap", "frontend-config"))
    elsewhere = copy.deepcopy(twin)
    elsewhere["metadata"]["namespace"] = "journal-other"
    assert problems([*dev, twin, elsewhere], external_secrets=EXTERNAL) == [
        "ConfigMap journal-dev/frontend-config: metadata.name: 'frontend-config' is defined "
        "twice: expected one object per API group, kind, namespace and name; give one of them "
        "another name"
    ]


def test_a_validated_synth_leaves_the_library_rules_over_every_object_to_the_library(
    dev: list[Manifest],
) -> None:
    """The synth passes ``validated=True``: the library's validation has just run its rules
    over every object (duplicates, labels, capacity); the project's own checks still run."""
    twin = copy.deepcopy(find(dev, "ConfigMap", "frontend-config"))
    find(dev, "ConfigMap", "frontend-config")["metadata"]["labels"]["tier"] = 7
    find(dev, "ResourceQuota", "journal-quota")["spec"]["hard"]["limits.cpu"] = "1m"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "journal-dev"},
        "data": {"k": "dg=="},
    }
    broken = [*dev, twin, secret]
    everything = problems(broken, external_secrets=EXTERNAL)
    assert any("is defined twice" in p for p in everything)
    assert any("the label value 7 is not allowed" in p for p in everything)
    assert any("cannot hold the namespace's workloads" in p for p in everything)
    assert problems(broken, external_secrets=EXTERNAL, validated=True) == [
        "Secret journal-dev/s: data: keys ['k'] are not allowed: secret values must never be "
        "written to the manifests; reference an existing Secret instead"
    ]


# Pod Security Standard "restricted"


RESTRICTED = "(Pod Security Standard 'restricted')"
SECURITY = f"{CONTAINER}.securityContext"


def set_field(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the frontend's pod spec: set the dotted ``path`` (no value: delete it)."""

    def change(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = spec
        for part in parents:
            target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            set_field("containers.0.securityContext.runAsNonRoot", False),
            f"{SECURITY}.runAsNonRoot: False is not allowed {RESTRICTED}: expected true here or "
            "in spec.template.spec.securityContext",
        ),
        (
            lambda s: [
                c.pop("runAsNonRoot")
                for c in (s["securityContext"], s["containers"][0]["securityContext"])
            ],
            f"{SECURITY}.runAsNonRoot: not set {RESTRICTED}: expected true here or "
            "in spec.template.spec.securityContext",
        ),
        (
            set_field("securityContext.runAsUser", 0),
            f"{SECURITY}.runAsUser: 0 is not allowed {RESTRICTED}: expected a non-root uid",
        ),
        (
            set_field("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}),
            f"{SECURITY}.seccompProfile.type: 'Unconfined' is not allowed {RESTRICTED}: expected "
            "one of ['RuntimeDefault', 'Localhost'] here or in spec.template.spec.securityContext",
        ),
        (
            set_field("containers.0.securityContext.allowPrivilegeEscalation", None),
            f"{SECURITY}.allowPrivilegeEscalation: not set {RESTRICTED}: expected false",
        ),
        (
            set_field("containers.0.securityContext.privileged", True),
            f"{SECURITY}.privileged: True is not allowed {RESTRICTED}",
        ),
        (
            set_field("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}),
            f"{SECURITY}.capabilities.drop: ['NET_RAW'] is not allowed {RESTRICTED}: expected a "
            "list containing 'ALL'",
        ),
        (
            set_field(
                "containers.0.securityContext.capabilities",
                {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "SYS_ADMIN"]},
            ),
            f"{SECURITY}.capabilities.add: ['SYS_ADMIN'] is not allowed {RESTRICTED}: expected "
            "only ['NET_BIND_SERVICE']",
        ),
        (
            set_field("containers.0.ports.0.hostPort", 8080),
            f"{CONTAINER}.ports[0].hostPort: 8080 is not allowed {RESTRICTED}: expected no "
            "hostPort",
        ),
        (
            set_field("hostNetwork", True),
            f"spec.template.spec.hostNetwork: True is not allowed {RESTRICTED}",
        ),
        (
            set_field("hostPID", True),
            f"spec.template.spec.hostPID: True is not allowed {RESTRICTED}",
        ),
        (
            set_field("hostIPC", True),
            f"spec.template.spec.hostIPC: True is not allowed {RESTRICTED}",
        ),
        (
            lambda s: s["volumes"].append({"name": "host", "hostPath": {"path": "/var/run"}}),
            f"spec.template.spec.volumes[2].hostPath: a hostPath volume is not allowed "
            f"{RESTRICTED}: expected one of ['configMap', 'csi', 'downwardAPI', 'emptyDir', "
            "'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']",
        ),
        (
            lambda s: s.setdefault("initContainers", []).append(
                {"name": "init", "image": "busybox", "securityContext": {}}
            ),
            "spec.template.spec.initContainers[0].securityContext.allowPrivilegeEscalation: not "
            f"set {RESTRICTED}: expected false",
        ),
    ],
    ids=[
        "run-as-root",
        "run-as-non-root-unset",
        "uid-0",
        "seccomp-unconfined",
        "privilege-escalation",
        "privileged",
        "capabilities-not-dropped",
        "capability-added",
        "host-port",
        "host-network",
        "host-pid",
        "host-ipc",
        "host-path",
        "init-container",
    ],
)
def test_fails_pod_security_restricted(
    dev: list[Manifest], change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    change(pod_spec(dev, "Deployment", "frontend"))
    assert f"{DEPLOYMENT}: {expected}" in problems(dev, external_secrets=EXTERNAL)


def test_net_bind_service_is_the_one_capability_allowed(dev: list[Manifest]) -> None:
    capabilities = pod_spec(dev, "Deployment", "frontend")["containers"][0]["securityContext"]
    capabilities["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    assert problems(dev, external_secrets=EXTERNAL) == []


def test_fails_namespace_not_enforcing_restricted(dev: list[Manifest]) -> None:
    namespace = find(dev, "Namespace", "journal-dev")
    namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
    assert problems(dev, external_secrets=EXTERNAL) == [
        "Namespace journal-dev: metadata.labels['pod-security.kubernetes.io/enforce']: "
        "'baseline' is not allowed: expected 'restricted', so the API server rejects pods that "
        "break the Pod Security Standard"
    ]


def test_fails_pods_in_a_namespace_the_synth_does_not_create(dev: list[Manifest]) -> None:
    without_namespace = [o for o in dev if o["kind"] != "Namespace"]
    assert problems(without_namespace, external_secrets=EXTERNAL)[0] == (
        "StatefulSet journal-dev/redis: metadata.namespace: 'journal-dev' is not a Namespace of "
        "this synth: expected the synth to create its namespace with "
        "pod-security.kubernetes.io/enforce: restricted"
    )


@pytest.mark.parametrize("field", ["data", "stringData"])
def test_fails_secret_carrying_data(dev: list[Manifest], field: str) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "redis-passwd", "namespace": "journal-dev"},
        field: {"passwd": "c2VjcmV0"},
    }
    assert problems([*dev, secret]) == [
        f"Secret journal-dev/redis-passwd: {field}: keys ['passwd'] are not allowed: secret "
        "values must never be written to the manifests; reference an existing Secret instead"
    ]


# The synth pipeline


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file and folder under ``folder`` with its bytes (folders: empty)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b""
        for p in sorted(folder.rglob("*"))
    }


def test_fails_synth_of_a_broken_build_exits_1_and_keeps_dist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdir = tmp_path / "dist"
    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(outdir)]
    assert synth.main(app.build, arguments) == 0
    before = snapshot(outdir)

    def broken(scope: cdk8s.App, environment: Environment) -> cdk8s.Chart:
        """The real chart plus a Service for the book's `nginx` backend that selects nothing."""
        chart = app.build(scope, environment)
        stray = cdk8s.ApiObject(
            chart, "Stray", api_version="v1", kind="Service", metadata={"name": "nginx"}
        )
        stray.add_json_patch(
            cdk8s.JsonPatch.add("/spec", {"selector": {"app": "nginx"}, "ports": [{"port": 80}]})
        )
        return chart

    capsys.readouterr()
    assert synth.main(broken, arguments) == 1
    assert snapshot(outdir) == before
    error = capsys.readouterr().err
    assert f"synth failed, {outdir}/ left as it was:" in error
    for environment in ("dev", "staging", "prod"):
        assert f"Service journal-{environment}/nginx: spec.selector: {{'app': 'nginx'}}" in error


def test_external_secret_is_the_one_the_values_name(tmp_path: Path) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", environments)
    base = environments / "_base.yaml"
    base.write_text(base.read_text().replace("name: redis-passwd", "name: journal-redis-auth"))
    arguments = ["--environments", str(environments), "--outdir", str(tmp_path / "dist")]
    assert synth.main(app.build, arguments) == 0
    manifest = (tmp_path / "dist" / "dev" / synth.MANIFEST_FILE).read_text()
    assert "secretName: journal-redis-auth" in manifest
    assert "redis-passwd" not in manifest.replace("/etc/redis-passwd", "")


# Resource quotas


def test_fails_quota_smaller_than_the_rollout_needs(dev: list[Manifest]) -> None:
    find(dev, "ResourceQuota", "journal-quota")["spec"]["hard"]["limits.cpu"] = "900m"
    # dev: API 250m x (1 + surge 1), NGINX 100m x (1 + 1), Redis 250m x 1 = 950m
    assert problems(dev, external_secrets=EXTERNAL) == [
        "ResourceQuota journal-dev/journal-quota: spec.hard.limits.cpu: '900m' cannot hold "
        "the namespace's workloads at their most, 950m = StatefulSet redis 1 pod (1 replica) "
        "* 250m + Deployment frontend 2 pods (1 replica + surge 1) * 250m + Deployment "
        "fileserver 2 pods (1 replica + surge 1) * 100m: raise the quota, or lower the "
        "replicas or an autoscaler's max_replicas"
    ]


def test_fails_quota_without_room_for_every_redis_claim(dev: list[Manifest]) -> None:
    find(dev, "StatefulSet", "redis")["spec"]["replicas"] = 6
    assert problems(dev, external_secrets=EXTERNAL) == [
        "ResourceQuota journal-dev/journal-quota: spec.hard.requests.storage: '5Gi' cannot "
        "hold the namespace's workloads at their most, 6Gi = StatefulSet redis claim 'data', "
        "6 pods * 1Gi: raise the quota, or lower the replicas or an autoscaler's max_replicas"
    ]


def test_only_the_secret_the_values_name_is_external(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def with_other_secret(scope: cdk8s.App, environment: Environment) -> cdk8s.Chart:
        """The real chart plus a second Redis whose Secret no values file declares."""
        chart = app.build(scope, environment)
        secret = ExistingSecret(name="cache-auth", key="k")
        # One small pod, so that dev's quota holds it.
        Redis(chart, "Cache", name="cache", password=secret, replicas=1, storage="1Gi")
        return chart

    arguments = ["--environments", str(ROOT / "environments"), "--outdir", str(tmp_path)]
    capsys.readouterr()
    assert synth.main(with_other_secret, arguments) == 1
    error = capsys.readouterr().err
    assert "'cache-auth' is not a Secret of this synth or a declared external Secret" in error
    assert "'redis-passwd' is not" not in error


ROUTE = "HTTPRoute journal-staging/frontend-route"


@pytest.fixture
def staging(environments: dict[str, list[Manifest]]) -> list[Manifest]:
    """A private copy of the staging manifests (its edge is an HTTPRoute), for a test to break."""
    return copy.deepcopy(environments["staging"])


def backend_ref(objects: list[Manifest], rule: int = 0) -> dict[str, Any]:
    ref: dict[str, Any] = find(objects, "HTTPRoute", "frontend-route")["spec"]["rules"][rule][
        "backendRefs"
    ][0]
    return ref


def test_fails_http_route_backend_naming_a_service_nothing_creates(
    staging: list[Manifest],
) -> None:
    backend_ref(staging, 1)["name"] = "nginx"  # the book's missing static server
    assert problems(staging, external_secrets=EXTERNAL) == [
        f"{ROUTE}: spec.rules[1].backendRefs[0].name: 'nginx' is not a Service of this synth in "
        "namespace 'journal-staging': expected one of ['fileserver', 'fileserver-metrics', "
        "'frontend', 'redis', 'redis-headless', 'redis-metrics', 'redis-write']"
    ]


def test_fails_http_route_backend_port_the_service_lacks(staging: list[Manifest]) -> None:
    backend_ref(staging, 1)["port"] = 8080
    assert problems(staging, external_secrets=EXTERNAL) == [
        f"{ROUTE}: spec.rules[1].backendRefs[0].port: 8080 is not a port of Service "
        "journal-staging/fileserver: expected one of [80]"
    ]


def test_fails_http_route_backend_of_another_kind(staging: list[Manifest]) -> None:
    backend_ref(staging)["kind"] = "Deployment"
    assert problems(staging, external_secrets=EXTERNAL) == [
        f"{ROUTE}: spec.rules[0].backendRefs[0]: group None kind 'Deployment' is not allowed: "
        "expected a Service (group '', kind Service)"
    ]


def test_fails_http_route_backend_in_another_namespace_without_a_grant(
    staging: list[Manifest],
) -> None:
    other = copy.deepcopy(find(staging, "Service", "frontend"))
    other["metadata"]["namespace"] = "api"
    del other["spec"]["selector"]  # its pods live elsewhere
    staging.append(other)
    backend_ref(staging)["namespace"] = "api"
    expected = (
        f"{ROUTE}: spec.rules[0].backendRefs[0].namespace: 'api' is another namespace and no "
        "ReferenceGrant there lets HTTPRoutes of 'journal-staging' reach Service api/frontend: "
        "expected one"
    )
    assert problems(staging, external_secrets=EXTERNAL) == [expected]
    grant = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "from-staging", "namespace": "api"},
        "spec": {
            "from": [
                {
                    "group": "gateway.networking.k8s.io",
                    "kind": "HTTPRoute",
                    "namespace": "journal-staging",
                }
            ],
            "to": [{"group": "", "kind": "Service", "name": "frontend"}],
        },
    }
    assert problems([*staging, grant], external_secrets=EXTERNAL) == []
    grant["spec"]["to"][0]["name"] = "other"  # type: ignore[index]
    assert problems([*staging, grant], external_secrets=EXTERNAL) == [expected]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"namespace": None},
            "spec.parentRefs[0].namespace: None is not allowed: expected a DNS name (the "
            "Gateway's namespace, set explicitly)",
        ),
        (
            {"namespace": "n" * 64},  # a DNS label: 63 characters at most
            f"spec.parentRefs[0].namespace: {'n' * 64!r} is not allowed: expected a DNS name "
            "(the Gateway's namespace, set explicitly)",
        ),
        (
            {"name": "Shared_Gateway"},
            "spec.parentRefs[0].name: 'Shared_Gateway' is not allowed: expected a DNS name (the "
            "Gateway's name, set explicitly)",
        ),
        (
            {"kind": "Service", "group": ""},
            "spec.parentRefs[0]: group '' kind 'Service' is not allowed: expected a Gateway "
            "(group gateway.networking.k8s.io)",
        ),
    ],
)
def test_fails_malformed_parent_refs(
    staging: list[Manifest], change: dict[str, Any], expected: str
) -> None:
    (parent,) = find(staging, "HTTPRoute", "frontend-route")["spec"]["parentRefs"]
    for key, value in change.items():
        if value is None:
            del parent[key]
        else:
            parent[key] = value
    assert problems(staging, external_secrets=EXTERNAL) == [f"{ROUTE}: {expected}"]


def test_fails_http_route_without_or_with_a_repeated_parent(staging: list[Manifest]) -> None:
    spec = find(staging, "HTTPRoute", "frontend-route")["spec"]
    spec["parentRefs"].append(dict(spec["parentRefs"][0]))
    assert problems(staging, external_secrets=EXTERNAL) == [
        f"{ROUTE}: spec.parentRefs[1]: {spec['parentRefs'][1]!r} is not allowed: this parent is "
        "named twice"
    ]
    spec["parentRefs"] = []
    assert problems(staging, external_secrets=EXTERNAL) == [
        f"{ROUTE}: spec.parentRefs: missing: expected at least one Gateway"
    ]
