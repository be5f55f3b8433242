"""Values files: layering, typed models, and errors that name the file, key, line and value."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from journal_k8s import Autoscaling, Failover
from journal_tools import values
from journal_tools.values import (
    GatewayEdge,
    IngressEdge,
    ValuesError,
    environment_names,
    load_environment,
    load_environments,
)
from support import ROOT


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    """A copy of environments/ to edit."""
    folder = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", folder)
    return folder


def test_the_three_environments_differ_where_decided() -> None:
    loaded = {e.name: e.values for e in load_environments(ROOT / "environments")}
    assert list(loaded) == ["dev", "prod", "staging"]
    dev, staging, prod = loaded["dev"], loaded["staging"], loaded["prod"]
    assert (dev.namespace, staging.namespace, prod.namespace) == (
        "journal-dev",
        "journal-staging",
        "journal-prod",
    )
    assert dev.frontend.replicas == 1 and dev.frontend.autoscaling is None
    for tier, floors in (("frontend", (2, 4)), ("static", (2, 3))):
        scaled = [getattr(e, tier) for e in (staging, prod)]
        assert [s.replicas for s in scaled] == [None, None]  # the autoscaler decides
        assert [s.autoscaling.min_replicas for s in scaled if s.autoscaling] == list(floors)
    assert prod.frontend.autoscaling and prod.frontend.autoscaling.max_replicas == 10
    assert dev.redis.replicas == 1 and prod.redis.replicas == 3
    assert dev.ingress.tls is None and prod.ingress.tls is not None
    assert prod.redis.storage.size == "50Gi" and prod.redis.storage.storage_class == "ssd"
    assert staging.frontend.image == prod.frontend.image  # inherited from _base.yaml
    assert dev.redis.failover is None and staging.redis.failover is None
    assert prod.redis.failover is not None and prod.redis.failover.min_replicas_to_write == 1


def test_base_is_a_layer_not_an_environment() -> None:
    assert "_base" not in environment_names(ROOT / "environments")


def test_overlay_merges_deeply(environments: Path) -> None:
    (environments / "qa.yaml").write_text(
        "namespace: journal-qa\nfrontend: {image: {tag: v2}}\n"
        "quota: {cpu: '4', memory: 4Gi, storage: 40Gi, pods: 10}\n"
    )
    qa = load_environment(environments, "qa").values
    assert qa.frontend.image.reference == "my-repo/journal-server:v2"
    assert qa.frontend.replicas == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "namespace: journal-dev\nfrontend: {replica: 2}\n",
            "dev.yaml:2: frontend.replica: unknown key: "
            "allowed here are autoscaling, image, journalEntries, replicas, resources",
        ),
        (
            "frontend:\n  replicas: two\n",
            "dev.yaml:2: frontend.replicas: 'two' is not allowed: expected a whole number from 1",
        ),
        (
            "frontend:\n  replicas: -1\n",
            "dev.yaml:2: frontend.replicas: -1 is not allowed: "
            "Input should be greater than or equal to 1",
        ),
        ("", "dev.yaml: the file is empty: expected a mapping of values"),
        (
            "frontend: [1\n",
            "dev.yaml: invalid YAML at line 2, column 1: did not find expected ',' or ']'",
        ),
        ("- 1\n", "dev.yaml: the top level is a list: expected a mapping of values"),
        (
            "namespace: Journal_Dev\n",
            "dev.yaml:1: namespace: 'Journal_Dev' is not allowed: expected a DNS-1123 label",
        ),
        (
            "redis:\n  storage: {size: 10 GB}\n",
            "dev.yaml:2: redis.storage.size: '10 GB' is not allowed: expected a Kubernetes",
        ),
        (
            "frontend:\n  image: {tag: 1.10}\n",
            "dev.yaml:2: frontend.image.tag: 1.1 is not allowed: expected text, and YAML reads an "
            "unquoted number as a number (1.10 as 1.1): quote it",
        ),
        (
            "frontend:\n  image: {tag: latest}\n",
            "dev.yaml:2: frontend.image.tag: 'latest' is not allowed: a pinned tag",
        ),
        (
            "namespace: journal-dev\nquota: {cpu: '4', memory: 4Gi, storage: 5Gi, pods: 10}\n"
            "redis:\n  replicas: 1\n  failover: {}\n",
            "dev.yaml:5: redis.failover: replicas=1 is not allowed with "
            "failover: expected at least 3",
        ),
        (
            "redis:\n  replicas: 3\n  failover: {minReplicasToWrite: -1}\n",
            "dev.yaml:3: redis.failover.minReplicasToWrite: -1 is not allowed",
        ),
        (  # the library's precondition (Failover.check_against), not a copy
            "redis:\n  replicas: 3\n  failover: {minReplicasToWrite: 3}\n",
            "dev.yaml:3: redis.failover: failover "
            "minReplicasToWrite=3 is not allowed with replicas=3: expected 0..2",
        ),
        (
            "redis:\n  replicas: 3\n  failover: {quorum: 2}\n",
            "dev.yaml:3: redis.failover.quorum: unknown key",
        ),
        (
            "ingress: {tls: {secretName: 3}}\n",
            "dev.yaml:1: ingress.tls.secretName: 3 is not allowed: expected text, and YAML reads "
            "an unquoted number as a number",
        ),
    ],
)
def test_fails_with_a_message_naming_the_spot(
    environments: Path, content: str, expected: str
) -> None:
    (environments / "dev.yaml").write_text(content)
    with pytest.raises(ValuesError) as error:
        load_environments(environments)
    assert expected in str(error.value)
    assert str(environments / "dev.yaml") in str(error.value)


def test_fails_replicas_and_autoscaling_together_or_neither(environments: Path) -> None:
    prod = environments / "prod.yaml"
    prod.write_text(prod.read_text().replace("  replicas: null\n", "", 1))
    with pytest.raises(ValuesError) as error:
        load_environments(environments)
    assert str(error.value).endswith(
        "prod.yaml:7: frontend.autoscaling: autoscaling replaces replicas: set 'replicas: null' "
        "to drop the base layer's"
    )
    prod.write_text(
        prod.read_text().replace(
            "  autoscaling: {minReplicas: 4, maxReplicas: 10}\n", "  replicas: null\n"
        )
    )
    with pytest.raises(ValuesError) as error:
        load_environments(environments)
    assert str(error.value).endswith(
        "prod.yaml:6: frontend.autoscaling: null (no value) is not allowed: expected replicas, or "
        "autoscaling (minReplicas, maxReplicas)"
    )


def test_fails_on_a_key_missing_everywhere(environments: Path) -> None:
    text = (environments / "dev.yaml").read_text()
    (environments / "dev.yaml").write_text(text.replace("namespace: journal-dev\n", ""))
    with pytest.raises(ValuesError, match=r"dev\.yaml: namespace: missing: this key is required"):
        load_environment(environments, "dev")


def test_fails_on_an_error_in_the_base_layer_naming_the_base(environments: Path) -> None:
    text = (environments / "_base.yaml").read_text()
    (environments / "_base.yaml").write_text(
        text.replace("journalEntries: 10", "journalEntries: 0")
    )
    with pytest.raises(
        ValuesError, match=r"_base.yaml:7: frontend.journalEntries: 0 is not allowed"
    ):
        load_environment(environments, "staging")


def test_fails_on_an_environment_name_that_cannot_name_a_folder(environments: Path) -> None:
    shutil.copy(environments / "dev.yaml", environments / "Dev_2.yaml")
    with pytest.raises(ValuesError, match="environment name 'Dev_2' is not allowed"):
        load_environments(environments)


def test_fails_on_an_environment_name_with_a_line_break(environments: Path) -> None:
    shutil.copy(environments / "dev.yaml", environments / "dev\n.yaml")
    with pytest.raises(ValuesError, match=r"environment name 'dev\\n' is not allowed"):
        load_environment(environments, "dev\n")


def test_fails_without_environments(tmp_path: Path) -> None:
    with pytest.raises(ValuesError, match="no environment files"):
        load_environments(tmp_path)


QUOTA = "quota: {cpu: '4', memory: 4Gi, storage: 5Gi, pods: 10}\n"


def qa_values(content: str) -> str:
    """``content`` completed with the keys an environment file must set."""
    namespace = "" if content.startswith("namespace:") else "namespace: journal-dev\n"
    return namespace + ("" if content.startswith("quota:") else QUOTA) + content


def test_each_environment_chooses_its_edge() -> None:
    loaded = {e.name: e.values for e in load_environments(ROOT / "environments")}
    assert loaded["dev"].edge == loaded["prod"].edge == IngressEdge(kind="ingress")
    assert loaded["dev"].ingress is not None and loaded["prod"].ingress is not None
    staging = loaded["staging"]
    assert staging.ingress is None
    assert staging.edge == GatewayEdge(
        kind="gateway",
        name="shared-gateway",
        namespace="gateway-system",
        section_name="https",
        hostnames=["journal.staging.example.com"],
        data_plane_labels={"gateway.networking.k8s.io/gateway-name": "shared-gateway"},
    )


QA = "namespace: journal-qa\nquota: {cpu: '4', memory: 4Gi, storage: 40Gi, pods: 10}\n"
PREFIX = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
"""The longest label key prefix: a DNS subdomain of 253 characters."""


def metrics(**more: str) -> str:
    """A metrics section of the values with ``more`` keys (YAML flow text)."""
    keys = "".join(f", {key}: {value}" for key, value in more.items())
    return (
        "metrics: {enabled: true, prometheus: {namespace: monitoring, podLabels: {app: p}}"
        f"{keys}}}\n"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("namespace: kube-system\n", "namespace: 'kube-system' is not allowed: a system namespace"),
        ("namespace: default\n", "namespace: 'default' is not allowed: a system namespace"),
        ("namespace: kube-public\n", "a system namespace"),
        ("namespace: kube-node-lease\n", "a system namespace"),
        ("frontend: {image: {repository: 'redis:7', tag: v1}}\n", "repository: 'redis:7' is no"),
        ("frontend: {image: {repository: 'my-repo//x/', tag: v1}}\n", "expected an image name"),
        ("frontend: {image: {tag: 'v1:x'}}\n", "frontend.image.tag: 'v1:x' is not allowed"),
        ("frontend: {image: {tag: 'sha256:abc'}}\n", "expected a tag"),
        ("ingress: {host: 10.0.0.1}\n", "ingress.host: '10.0.0.1' is not allowed: expected a DNS"),
        ("ingress: {host: '[::1]'}\n", "(not an IP address)"),
        ("ingress: {host: 'a.*.example.com'}\n", "ingress.host: 'a.*.example.com' is not"),
        ("redis: {resources: {memory: 1m}}\n", "redis.resources.memory: '1m' is not allowed"),
        ("redis: {resources: {memory: 1Ki}}\n", "out of range: allowed from 1Mi to 64Ti"),
        ("redis: {resources: {cpu: 0.5m}}\n", "out of range: allowed from 1m to 4096"),
        ("redis: {resources: {cpu: 1e3m}}\n", "redis.resources.cpu: '1e3m' is not allowed"),
        ("redis: {resources: {cpu: '-1'}}\n", "expected a Kubernetes quantity"),
        ("redis: {storage: {size: 2Ei}}\n", "out of range: allowed from 1Mi to 1Pi"),
        (
            "quota: {cpu: '4', memory: 4Gi, storage: 5Gi, pods: 1e30}\n",
            "1e+30 is not allowed: expected a whole number from 1 to 10000",
        ),
        (f"quota: {{cpu: '4', memory: 4Gi, storage: 5Gi, pods: {10**40}}}\n", "quota.pods: 1000"),
        ("frontend: {journalEntries: 1000001}\n", "less than or equal to 100000"),
        ("frontend: {replicas: 101}\n", "less than or equal to 100"),
        (metrics(interval="0s"), "metrics.interval: '0s' is not allowed: expected a duration"),
        (metrics(interval="'0'"), "metrics.interval: '0' is not allowed: expected a duration"),
        (metrics(interval="1d"), "metrics.interval: '1d' is not allowed: expected a Prometheus"),
        (
            metrics(monitorLabels=f"{{'{PREFIX}x/name': v}}"),
            "whose prefix (before '/') is at most 253 long",
        ),
        (
            metrics(frontend="{port: 9090, path: '/a b'}"),
            "metrics.frontend.path: '/a b' is not allowed: expected a path starting with '/'",
        ),
        (
            "namespace: " + "a" * 5000 + "\n",
            "'" + "a" * 58 + "… is not allowed",
        ),
    ],
)
def test_fails_on_values_outside_the_kubernetes_grammars(
    environments: Path, content: str, expected: str
) -> None:
    (environments / "dev.yaml").write_text(qa_values(content))
    with pytest.raises(ValuesError) as error:
        load_environment(environments, "dev")
    assert expected in str(error.value)
    assert "\n" not in str(error.value) and len(str(error.value)) < 400


@pytest.mark.parametrize(
    "content",
    [
        "frontend: {image: {repository: 'registry.example.com:5000/team/app', tag: v1.2_3}}\n",
        "frontend: {image: {repository: a/b__c/d-e.f, tag: 'sha256:" + "0a" * 32 + "'}}\n",
        "ingress: {host: '*.example.com'}\n",
        "ingress: {host: xn--bcher-kva.example}\n",
        "ingress: null\nedge: {kind: gateway, name: g, namespace: g, hostnames: ['*.a.example']}\n",
        "redis: {resources: {cpu: 1e3, memory: 1.5Gi}}\n",
        "redis: {resources: {cpu: .5, memory: 1e9}}\n",
        "quota: {cpu: 4096, memory: 64Ti, storage: 1Pi, pods: 10000}\n",
        "quota: {cpu: 1m, memory: 1Mi, storage: 1Mi, pods: 1}\n",
        metrics(monitorLabels=f"{{'{PREFIX}/{'n' * 63}': v}}", interval="1m30s"),
        metrics(frontend="{port: 9090, path: '/stats?format=prometheus'}"),
    ],
)
def test_accepts_what_kubernetes_accepts(environments: Path, content: str) -> None:
    (environments / "dev.yaml").write_text(qa_values(content))
    load_environment(environments, "dev")


def test_fails_on_two_environments_sharing_a_namespace(environments: Path) -> None:
    (environments / "qa.yaml").write_text("namespace: journal-dev\n" + QUOTA)
    with pytest.raises(ValuesError, match=r"qa\.yaml:1: namespace: 'journal-dev' is not allowed"):
        load_environments(environments)


@pytest.mark.parametrize("name", ["helm", "diagrams", "bench", "docs"])
def test_fails_on_an_environment_named_like_a_command_output(environments: Path, name: str) -> None:
    (environments / f"{name}.yaml").write_text(f"namespace: journal-{name}\n" + QUOTA)
    with pytest.raises(ValuesError, match=f"environment name '{name}' is not allowed: dist/{name}"):
        load_environments(environments)


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("qa.yml", "qa.yml: values files end in .yaml: rename it to qa.yaml"),
        ("qa.YAML", "qa.YAML: values files end in .yaml"),
        ("DEV.yaml", "dev.yaml: environment 'dev' is also defined by DEV.yaml"),
    ],
)
def test_fails_on_files_it_would_otherwise_ignore_or_confuse(
    environments: Path, file: str, expected: str
) -> None:
    (environments / file).write_text("namespace: journal-qa\n" + QUOTA)
    with pytest.raises(ValuesError, match=expected):
        load_environments(environments)


def test_fails_on_an_unreadable_folder(tmp_path: Path) -> None:
    (tmp_path / "environments").write_text("")
    with pytest.raises(ValuesError, match="environments: cannot read the folder: Not a directory"):
        load_environments(tmp_path / "environments")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "edge: {kind: gateway, name: gw, namespace: gateways}\n",
            "qa.yaml:3: edge: kind 'gateway' takes no ingress keys: set 'ingress: null'",
        ),
        (
            "ingress: null\n",
            "qa.yaml: edge: kind 'ingress' needs the ingress keys",
        ),
        (
            "edge: {kind: mesh}\n",
            "qa.yaml:3: edge.kind: 'mesh' is not allowed: expected one of 'ingress', 'gateway'",
        ),
        (
            "ingress: null\nedge: {kind: gateway, name: gw, namespace: Gateways}\n",
            "qa.yaml:4: edge.namespace: 'Gateways' is not allowed: expected a DNS-1123 label",
        ),
        (
            "ingress: null\nedge: {kind: gateway, namespace: gateways}\n",
            "qa.yaml:4: edge.name: missing: this key is required",
        ),
        (
            "ingress: null\nedge: {namespace: gateways}\n",
            "qa.yaml:4: edge.kind: missing: this key is required",
        ),
        (
            "ingress: null\nedge: {kind: gateway, name: gw, namespace: gw, port: 80}\n",
            "qa.yaml:4: edge.port: unknown key: allowed here are dataPlaneLabels, "
            "dataPlaneNamespace, hostnames, kind, name, namespace, sectionName",
        ),
        (
            "edge: {kind: ingress, name: gw}\n",
            "qa.yaml:3: edge.name: unknown key: allowed here are kind",
        ),
        (
            "ingress: null\nedge: {kind: gateway, name: gw, namespace: gw, "
            "hostnames: [10.1.1.1]}\n",
            "qa.yaml:4: edge.hostnames.0: '10.1.1.1' is not allowed: expected a DNS host name",
        ),
        (
            "ingress: null\nedge:\n  kind: gateway\n  name: gw\n  namespace: gw\n"
            "  dataPlaneLabels: {bad key!: gw}\n",
            "qa.yaml:8: edge.dataPlaneLabels: 'bad key!' is not allowed: expected a label key",
        ),
        (
            "ingress: null\nedge:\n  kind: gateway\n  name: gw\n  namespace: gw\n"
            "  dataPlaneLabels: {app: bad value!}\n",
            "qa.yaml:8: edge.dataPlaneLabels.app: 'bad value!' is not allowed: expected a label "
            "value",
        ),
    ],
)
def test_fails_on_an_edge_that_is_not_one_thing(
    environments: Path, content: str, expected: str
) -> None:
    (environments / "qa.yaml").write_text(QA + content)
    with pytest.raises(ValuesError) as error:
        load_environment(environments, "qa")
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("model", "library"),
    [(values.RedisFailover, Failover), (values.Autoscaling, Autoscaling)],
)
def test_integer_bounds_are_the_librarys(model: type[values.BaseModel], library: type) -> None:
    """Each integer key the library bounds takes the library's range (the values may cap a
    range the library leaves open), so a values file and the constructs never disagree."""
    schema = model.model_json_schema(by_alias=False)["properties"]
    for name, allowed in library.RANGES.items():  # type: ignore[attr-defined]
        if name not in schema:
            continue  # not a values key: the library's default holds
        options = schema[name].get("anyOf", [schema[name]])
        (bounded,) = [s for s in options if s.get("type") == "integer"]
        assert bounded["minimum"] == allowed.minimum, name
        if allowed.maximum is not None:
            assert bounded["maximum"] == allowed.maximum, name


def test_every_output_folder_of_a_command_is_a_reserved_environment_name() -> None:
    """``dist/<env>/`` and the folders the project's commands write under ``dist/`` never
    meet: each such folder, in the Makefile or a tool, is refused as an environment name."""
    texts = [(ROOT / "Makefile").read_text()]
    texts += [
        path.read_text() for path in sorted((ROOT / "constructs" / "journal_tools").glob("*.py"))
    ]
    folders = {
        match
        for text in texts
        for pattern in (
            r"\bdist/([a-z][a-z0-9-]*)",
            r'"dist" / "([a-z][a-z0-9-]*)"',
            r'dist / "([a-z][a-z0-9-]*)"',
        )
        for match in re.findall(pattern, text)
    }
    examples = {path.stem for path in (ROOT / "environments").glob("*.yaml")}  # dist/prod
    assert {"helm", "diagrams", "bench", "docs"} <= folders  # the patterns find them
    assert folders - examples <= set(values.RESERVED_NAMES)
