"""The synthesized NetworkPolicies, evaluated over the synthesized pods: exactly who reaches whom.

The evaluator follows the NetworkPolicy API: a policy selects pods of its own namespace; a pod
selected by any policy of a direction is isolated in that direction and admits only what one
of those policies' rules allows (policies add up, there is no deny rule); a connection needs
the source's egress AND the target's ingress to allow it; a peer with only a ``podSelector``
means pods of the policy's namespace, a ``namespaceSelector`` matches namespace labels (every
namespace carries ``kubernetes.io/metadata.name``); ports are the target pod's ports, by number
or by container port name, TCP by default.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

import app
from journal_tools import synth
from journal_tools.manifests import from_yaml
from journal_tools.selectors import POD_NAME_LABEL, pod_labels, selects
from journal_tools.values import Environment, GatewayEdge, load_environments
from support import ROOT, Manifest

ENVIRONMENTS = ["dev", "staging", "prod"]


@dataclass(frozen=True)
class Pod:
    """A pod as NetworkPolicies see it: namespace, labels and named container ports."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    ports: Mapping[str, int] = field(default_factory=dict)


@dataclass
class Cluster:
    """NetworkPolicies and namespace labels: answers whether one pod may connect to another."""

    policies: Sequence[Manifest]
    namespace_labels: Mapping[str, Mapping[str, str]]

    def allows(self, source: Pod, target: Pod, port: int, protocol: str = "TCP") -> bool:
        """Whether ``source`` may open a connection to ``target`` on ``port``."""
        return self._admits("Egress", source, source, target, port, protocol) and self._admits(
            "Ingress", target, source, target, port, protocol
        )

    def _admits(
        self, direction: str, pod: Pod, source: Pod, target: Pod, port: int, protocol: str
    ) -> bool:
        isolating = [
            policy
            for policy in self.policies
            if policy["metadata"]["namespace"] == pod.namespace
            and selects(policy["spec"].get("podSelector"), pod.labels)
            and direction in policy_types(policy["spec"])
        ]
        if not isolating:
            return True
        rules, peers, peer = (
            ("ingress", "from", source) if direction == "Ingress" else ("egress", "to", target)
        )
        return any(
            (not rule.get(peers) or any(self._is(p, peer, pod.namespace) for p in rule[peers]))
            and (
                not rule.get("ports") or any(_on(p, target, port, protocol) for p in rule["ports"])
            )
            for policy in isolating
            for rule in policy["spec"].get(rules) or []
        )

    def _is(self, peer: Mapping[str, Any], pod: Pod, policy_namespace: str) -> bool:
        if "ipBlock" in peer:  # the pods here have no addresses
            return False
        if "namespaceSelector" in peer:
            labels = {
                "kubernetes.io/metadata.name": pod.namespace,
                **self.namespace_labels.get(pod.namespace, {}),
            }
            in_namespace = selects(peer["namespaceSelector"], labels)
        else:
            in_namespace = pod.namespace == policy_namespace
        return in_namespace and (
            "podSelector" not in peer or selects(peer["podSelector"], pod.labels)
        )


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    """``policyTypes``, or its default: Ingress, plus Egress when egress rules are given."""
    default = ["Ingress", *(["Egress"] if "egress" in spec else [])]
    types: list[str] = spec.get("policyTypes", default)
    return types


def _on(rule_port: Mapping[str, Any], target: Pod, port: int, protocol: str) -> bool:
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    if "port" not in rule_port:
        return True
    first = rule_port["port"]
    number = target.ports.get(first) if isinstance(first, str) else first
    return number is not None and number <= port <= rule_port.get("endPort", number)


def synthesized_pods(objects: Sequence[Manifest]) -> dict[str, Pod]:
    """Every pod the workloads run: one per Deployment (its replicas are alike), and each
    StatefulSet pod by its name (``redis-0``, ``redis-1``, ...), with the controller's labels."""
    pods = {}
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        name, template = obj["metadata"]["name"], obj["spec"]["template"]
        ports = {
            port["name"]: port["containerPort"]
            for container in template["spec"]["containers"]
            for port in container.get("ports", [])
            if "name" in port
        }
        for labels in pod_labels(obj, template):
            pod_name = labels.get(POD_NAME_LABEL, name)
            pods[pod_name] = Pod(pod_name, obj["metadata"]["namespace"], labels, ports)
    return pods


@dataclass
class World:
    """One environment: its cluster view, its pods and pods from elsewhere."""

    cluster: Cluster
    pods: dict[str, Pod]
    environment: Environment

    @property
    def namespace(self) -> str:
        return self.environment.values.namespace

    @property
    def controller(self) -> Pod:
        """A pod of the edge: of the ingress controller's namespace, or a Gateway data-plane pod."""
        values = self.environment.values
        if isinstance(values.edge, GatewayEdge):
            labels = values.edge.data_plane_labels or {}
            namespace = values.edge.data_plane_namespace or values.edge.namespace
            return Pod("edge-proxy", namespace, {**labels, "app": "envoy"})
        assert values.ingress is not None
        namespace = values.ingress.controller_namespace
        return Pod("edge-proxy", namespace, {"app.kubernetes.io/name": "ingress-nginx"})

    @property
    def debug(self) -> Pod:
        """A pod of the namespace that no policy names."""
        return Pod("debug", self.namespace, {"run": "debug"}, {"http": 8080})

    @property
    def impostor(self) -> Pod:
        """A pod of another namespace wearing the frontend's labels."""
        return Pod("impostor", "other", dict(self.pods["frontend"].labels))

    @property
    def outsiders(self) -> list[Pod]:
        """Pods that are not the journal's: the controller, debug, impostor and kube-dns."""
        return [self.controller, self.debug, self.impostor, DNS]


DNS = Pod("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, {"dns": 53, "dns-tcp": 53})


@pytest.fixture(scope="module")
def manifests() -> dict[str, list[Manifest]]:
    """Every environment's manifests, as the synth renders them."""
    rendered = synth.render(load_environments(ROOT / "environments"), app.build)
    return {name: from_yaml(text) for name, text in rendered.items()}


def world(objects: Sequence[Manifest], name: str, *, without: Sequence[str] = ()) -> World:
    """The environment ``name``, optionally with the NetworkPolicies ``without`` left out."""
    namespaces = {
        o["metadata"]["name"]: o["metadata"].get("labels", {})
        for o in objects
        if o["kind"] == "Namespace"
    }
    every_policy = [o for o in objects if o["kind"] == "NetworkPolicy"]
    policies = [o for o in every_policy if o["metadata"]["name"] not in without]
    assert len(policies) == len(every_policy) - len(without), f"no policy among {without}"
    environment = next(e for e in load_environments(ROOT / "environments") if e.name == name)
    cluster = Cluster(copy.deepcopy(policies), namespaces)
    return World(cluster, synthesized_pods(objects), environment)


@pytest.fixture(params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest, manifests: dict[str, list[Manifest]]) -> World:
    return world(manifests[request.param], request.param)


def redis_pods(env: World) -> list[Pod]:
    return [pod for name, pod in env.pods.items() if re.fullmatch(r"redis-\d+", name)]


def proxies(env: World) -> list[str]:
    """The HAProxy pod of Redis failover, where the environment turns it on."""
    return ["redis-proxy"] if env.environment.values.redis.failover else []


def test_pods_and_policies_are_found(env: World) -> None:
    replicas = len(redis_pods(env))
    assert sorted(env.pods) == [
        "fileserver",
        "frontend",
        *(f"redis-{i}" for i in range(replicas)),
        *proxies(env),
    ]
    assert replicas == env.environment.values.redis.replicas
    assert all(p["metadata"]["namespace"] == env.namespace for p in env.cluster.policies)
    assert bool(proxies(env)) == (env.environment.name == "prod")


def test_only_the_frontend_the_proxy_and_redis_reach_redis(env: World) -> None:
    everyone = [*env.pods.values(), *env.outsiders]
    for redis in redis_pods(env):
        reach = {pod.name for pod in everyone if env.cluster.allows(pod, redis, 6379)}
        assert reach == {"frontend", *proxies(env), *(p.name for p in redis_pods(env))}, redis.name


def test_only_redis_pods_reach_the_sentinels(env: World) -> None:
    everyone = [*env.pods.values(), *env.outsiders]
    for redis in redis_pods(env):
        reach = {pod.name for pod in everyone if env.cluster.allows(pod, redis, 26379)}
        expected = {p.name for p in redis_pods(env)} if proxies(env) else set()
        assert reach == expected, redis.name


def test_only_the_frontend_reaches_the_proxy(manifests: dict[str, list[Manifest]]) -> None:
    env = world(manifests["prod"], "prod")  # the environment with Redis failover
    everyone = [*env.pods.values(), *env.outsiders]
    proxy = env.pods["redis-proxy"]
    assert {pod.name for pod in everyone if env.cluster.allows(pod, proxy, 6379)} == {"frontend"}
    assert not any(env.cluster.allows(pod, proxy, 8404) for pod in everyone)
    assert all(env.cluster.allows(proxy, redis, 6379) for redis in redis_pods(env))
    assert not any(env.cluster.allows(proxy, redis, 26379) for redis in redis_pods(env))


def test_fails_static_server_reaching_redis(env: World) -> None:
    assert not env.cluster.allows(env.pods["fileserver"], env.pods["redis-0"], 6379)


def test_ingress_controller_reaches_the_web_tiers_only(env: World) -> None:
    frontend, static, redis = env.pods["frontend"], env.pods["fileserver"], env.pods["redis-0"]
    assert env.cluster.allows(env.controller, frontend, 8080)
    assert env.cluster.allows(env.controller, static, static.ports["http"])
    assert not env.cluster.allows(env.controller, redis, 6379)
    # Policies see the pod's port, not the Service's (80 is translated to 8080 before).
    assert not env.cluster.allows(env.controller, static, 80)


def test_fails_other_pods_reaching_the_web_tiers(env: World) -> None:
    for target in ("frontend", "fileserver"):
        sources = [*env.pods.values(), *env.outsiders]
        reach = {s.name for s in sources if env.cluster.allows(s, env.pods[target], 8080)}
        assert reach == {"edge-proxy"}, target


def test_fails_other_pods_of_the_gateway_namespace_reaching_the_web_tiers(
    manifests: dict[str, list[Manifest]],
) -> None:
    staging = world(manifests["staging"], "staging")
    edge = staging.environment.values.edge
    assert isinstance(edge, GatewayEdge)
    # The Gateway's controller (not its data plane) and a data-plane pod of another Gateway.
    neighbours = [
        Pod("gateway-controller", edge.namespace, {"app": "gateway-controller"}),
        Pod("other-gateway", edge.namespace, {"gateway.networking.k8s.io/gateway-name": "other"}),
        Pod("lookalike", "other", dict(staging.controller.labels)),
    ]
    for target in ("frontend", "fileserver"):
        pod = staging.pods[target]
        assert staging.cluster.allows(staging.controller, pod, 8080)
        assert not any(staging.cluster.allows(n, pod, 8080) for n in neighbours), target


def test_every_pod_reaches_kube_dns(env: World) -> None:
    for pod in [*env.pods.values(), env.debug]:
        assert env.cluster.allows(pod, DNS, 53, "UDP"), pod.name
        assert env.cluster.allows(pod, DNS, 53, "TCP"), pod.name


def test_fails_egress_beyond_dns_and_redis(env: World) -> None:
    outside = Pod("web", "other", {"app": "web"}, {"https": 443})
    for pod in env.pods.values():
        assert not env.cluster.allows(pod, outside, 443), pod.name
        assert not env.cluster.allows(pod, DNS, 80), pod.name


@pytest.mark.parametrize("missing", ["frontend-to-redis", "redis-from-frontend"])
def test_fails_frontend_to_redis_without_both_halves(
    manifests: dict[str, list[Manifest]], missing: str
) -> None:
    broken = world(manifests["dev"], "dev", without=[missing])
    assert not broken.cluster.allows(broken.pods["frontend"], broken.pods["redis-0"], 6379)


def test_fails_replication_without_the_redis_egress(manifests: dict[str, list[Manifest]]) -> None:
    broken = world(manifests["dev"], "dev", without=["redis-replication"])
    assert not broken.cluster.allows(broken.pods["redis-0"], broken.pods["redis-0"], 6379)


def test_fails_open_pods_without_default_deny(manifests: dict[str, list[Manifest]]) -> None:
    broken = world(manifests["dev"], "dev", without=["default-deny"])
    assert broken.cluster.allows(broken.controller, broken.debug, 8080)
    intact = world(manifests["dev"], "dev")
    assert not intact.cluster.allows(intact.controller, intact.debug, 8080)


def test_fails_look_alike_pod_in_another_namespace(env: World) -> None:
    assert env.impostor.labels == env.pods["frontend"].labels
    assert not env.cluster.allows(env.impostor, env.pods["redis-0"], 6379)


# The evaluator itself


def test_named_ports_end_ports_and_protocols() -> None:
    target = Pod("t", "ns", {}, {"http": 8080})
    assert _on({"port": "http"}, target, 8080, "TCP")
    assert not _on({"port": "http"}, target, 8081, "TCP")
    assert _on({"port": 8000, "endPort": 8100}, target, 8080, "TCP")
    assert not _on({"port": 8080, "protocol": "UDP"}, target, 8080, "TCP")
    assert _on({"protocol": "TCP"}, target, 1, "TCP")


def test_policy_types_default() -> None:
    assert policy_types({"podSelector": {}}) == ["Ingress"]
    assert policy_types({"podSelector": {}, "egress": []}) == ["Ingress", "Egress"]
