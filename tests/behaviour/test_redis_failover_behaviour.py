"""``Redis(failover=...)`` run for real: redis-server, redis-sentinel and HAProxy in the harness.

The synthesized StatefulSet (redis-server and a sentinel per pod) and HAProxy Deployment run
pod by pod in network namespaces, on one private network with a DNS server, as the behaviour
tests of plain Redis do. Writes go through the write Service's pods (HAProxy) as a client that
knows nothing of Sentinel would send them. Needs root and the Debian packages redis-server,
redis-sentinel, redis-tools and haproxy (installed if missing; under ``CI=true`` a missing
one is a failure).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import secrets
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cdk8s
import pytest
from pods import Network, StatefulSetRun, run_network, run_stateful_set
from test_redis_behaviour import Client, ReplyError, need, need_root, replication

from journal_k8s import Failover, Redis
from support import Manifest, synth

pytestmark = pytest.mark.real

REPLICAS = 3
POD_BINARIES = ("redis-server", "redis-sentinel", "redis-cli", "haproxy", "ip", "setpriv")
SETTLE_TIMEOUT = 60.0
"""The longest any wait for the cluster to settle may take, in seconds."""


@dataclass
class Cluster:
    """The Redis pods, the HAProxy pods and what a test needs to reach them."""

    network: Network
    redis: StatefulSetRun
    proxy: StatefulSetRun
    construct: Redis
    password: str
    clients: list[Client] = field(default_factory=list)

    def client(self, address: str, port: int = 6379, *, timeout: float = 5) -> Client:
        """An authenticated client of ``address`` (closed at the end of the module)."""
        client = Client(self.network.connect(address, port, timeout))
        self.clients.append(client)
        assert client.call("AUTH", self.password) == "OK"
        return client

    def pod_client(self, index: int) -> Client:
        """A client of Redis pod ``index``."""
        return self.client(self.redis.pods[index].address)

    def master_index(self) -> int:
        """The index of the pod that every sentinel names as the master."""
        names = set()
        for pod in self.redis.pods:
            if pod.process is None:
                continue
            sentinel = self.client(pod.address, 26379)
            reply = sentinel.call("SENTINEL", "get-master-addr-by-name", self.construct.name)
            assert isinstance(reply, list), reply
            names.add(str(reply[0]))
        assert len(names) == 1, f"the sentinels disagree: {names}"
        (name,) = names
        return [f"{p.name}.{self.construct.headless_service_name}" for p in self.redis.pods].index(
            name
        )

    def sentinel_view(self, index: int) -> tuple[int, int]:
        """The replicas and other sentinels that pod ``index``'s sentinel knows, all healthy
        (negative counts when some are not, or while it is failing over: a failover begun in
        an earlier scenario holds the sentinels' epoch until its ``failover-timeout``)."""
        sentinel = self.client(self.redis.pods[index].address, 26379)
        reply = sentinel.call("SENTINEL", "master", self.construct.name)
        assert isinstance(reply, list)
        if "failover_in_progress" in dict(zip(reply[::2], reply[1::2], strict=True))["flags"]:
            return -1, -1
        reply = sentinel.call("SENTINEL", "replicas", self.construct.name)
        assert isinstance(reply, list)
        replicas = [dict(zip(r[::2], r[1::2], strict=True)) for r in reply]
        reply = sentinel.call("SENTINEL", "sentinels", self.construct.name)
        assert isinstance(reply, list)
        sentinels = [dict(zip(r[::2], r[1::2], strict=True)) for r in reply]
        healthy = [
            r for r in replicas if "down" not in r["flags"] and "disconnected" not in r["flags"]
        ]
        up = [r for r in sentinels if "down" not in r["flags"]]
        # A restarted sentinel has a new id: the old one must not linger (it would count as
        # a voter, and a majority could get out of reach). Nor may a stale replica entry.
        if len(sentinels) != len(up) or len(replicas) != len(healthy):
            return -len(replicas), -len(sentinels)
        return len(healthy), len(up)

    def wait_settled(self) -> int:
        """Wait until every pod runs, one master has every other pod linked as replica, both
        proxies are ready and every sentinel sees them all, not failing over; return the
        master's index."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            try:
                master = self.master_index()
                info = replication(self.pod_client(master))
                linked = [
                    replication(self.pod_client(i)).get("master_link_status") == "up"
                    for i in range(REPLICAS)
                    if i != master
                ]
                proxies = [self.proxy.probe(i, "readinessProbe").passed for i in range(2)]
                if (
                    info["role"] == "master"
                    and info["connected_slaves"] == str(REPLICAS - 1)
                    and all(linked)
                    and all(proxies)
                    and all(
                        self.sentinel_view(i) == (REPLICAS - 1, REPLICAS - 1)
                        for i in range(REPLICAS)
                    )
                ):
                    return master
            except (OSError, ReplyError, AssertionError, KeyError, ValueError):
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(
                    [self.redis.log(i)[-4000:] for i in range(REPLICAS)]
                    + [self.proxy.log(i)[-2000:] for i in range(len(self.proxy.pods))]
                )
                raise TimeoutError(f"the cluster did not settle in {SETTLE_TIMEOUT} s:\n{logs}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def manifests() -> tuple[Redis, list[Manifest]]:
    """A failover Redis with the library's default settings, synthesized."""
    chart = cdk8s.Chart(cdk8s.App(), "test", namespace="journal", disable_resource_name_hashes=True)
    construct = Redis(chart, "Redis", replicas=REPLICAS, failover=Failover())
    return construct, synth(chart)


@pytest.fixture(scope="module")
def cluster(manifests: tuple[Redis, list[Manifest]]) -> Iterator[Cluster]:
    """Every pod started (Redis in order, then both proxies) and settled."""
    need_root()
    need(*POD_BINARIES)
    construct, objects = manifests
    password = secrets.token_urlsafe(32)
    secret = {construct.password.name: {construct.password.key: password}}
    with (
        run_network("journal") as network,
        run_stateful_set(objects, construct.name, secret, network) as redis,
        run_stateful_set(objects, construct.proxy_name, secret, network) as proxy,
    ):
        redis.start_all()
        for index in range(len(proxy.pods)):
            proxy.start(index)
        run = Cluster(network, redis, proxy, construct, password)
        try:
            run.wait_settled()
            yield run
        finally:
            for client in run.clients:
                with contextlib.suppress(OSError):
                    client.close()


@pytest.fixture
def settled(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster with every pod running and settled, before and after the test."""
    cluster.wait_settled()
    yield cluster
    for index, pod in enumerate(cluster.redis.pods):
        if pod.process is None:
            cluster.redis.start(index)
    cluster.wait_settled()


@dataclass
class WriteStream:
    """Writes through the write Service's pods (the proxies), one ``SET`` + ``WAIT 1`` a time.

    A write counts as acknowledged when ``WAIT 1`` says a replica has it. Every error
    (connection, ``READONLY``, ``NOREPLICAS``, …) is kept with its time.
    """

    cluster: Cluster
    acknowledged: list[tuple[str, float]] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)
    servers: list[tuple[float, str]] = field(default_factory=list)
    """When each connection's first write succeeded, and the Redis pod that took it."""
    errors: list[tuple[float, str]] = field(default_factory=list)
    stop_at: float = 0.0

    def run(self, duration: float) -> None:
        """Write for ``duration`` seconds at most (or until ``stop_at`` if set sooner)."""
        deadline = time.monotonic() + duration
        client: Client | None = None
        server = ""
        proxies = self.cluster.proxy.pods
        attempt = 0
        while time.monotonic() < min(deadline, self.stop_at or deadline) and attempt < 10**6:
            attempt += 1
            try:
                if client is None:
                    pod = proxies[attempt % len(proxies)]
                    connection = self.cluster.network.connect(pod.address, 6379, timeout=2)
                    client = Client(connection)
                    client.call("AUTH", self.cluster.password)
                    server = ""
                key = f"stream:{secrets.token_hex(6)}"
                client.call("SET", key, "x")
                self.successes.append(time.monotonic())
                if not server:
                    # HAProxy keeps a connection on one server: name it once per connection.
                    reply = client.call("CONFIG", "GET", "replica-announce-ip")
                    server = str(reply[1]) if isinstance(reply, list) else "?"
                    self.servers.append((self.successes[-1], server))
                if int(str(client.call("WAIT", "1", "500"))) >= 1:
                    self.acknowledged.append((key, time.monotonic()))
            except (OSError, ConnectionError, ReplyError) as error:
                self.errors.append((time.monotonic(), f"{type(error).__name__}: {error}"))
                if client is not None:
                    with contextlib.suppress(OSError):
                        client.close()
                client = None
                time.sleep(0.05)
        if client is not None:
            client.close()

    def outage(self, since: float) -> tuple[float, float]:
        """The longest gap between two successful writes that ends after ``since``, and the
        time of the write that ended it (when writes resumed)."""
        times = [t for t in self.successes if t > since - 1]
        after = [t for t in times if t > since]
        assert after, f"no write succeeded after the kill; errors: {self.errors[-5:]}"
        gaps = [(b - a, b) for a, b in itertools.pairwise(times) if b > since]
        return max(gaps, default=(0.0, after[0]))


def errors_summary(errors: list[tuple[float, str]]) -> str:
    """How many errors of each kind (the reply's first word, or the exception's name)."""
    kinds: dict[str, int] = {}
    for _, error in errors:
        kind = (
            error.split(": ", 1)[-1].split(" ", 1)[0]
            if "ReplyError" in error
            else error.split(":")[0]
        )
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"


def keys_present(client: Client, keys: list[str]) -> int:
    """How many of ``keys`` exist on ``client``'s server (in batches)."""
    found = 0
    for start in range(0, len(keys), 500):
        found += int(str(client.call("EXISTS", *keys[start : start + 500])))
    return found


INSTALL_STAND_IN = """\
mkdir "$1/bin"
printf '#!/bin/sh\\necho "argv: $*"\\nenv\\n' > "$1/bin/$2"
chmod 755 "$1/bin/$2"
PATH="$1/bin:$PATH"
export PATH
shift 2
exec "$@"
"""
"""Runs ``$3...`` with a stand-in ``$2`` (in the writable directory ``$1``) that prints its
arguments and environment instead of serving."""


def sentinel_master(sentinel: Client, master_set: str) -> dict[str, str]:
    """``SENTINEL MASTER``: what the sentinel knows of the master, as a dict."""
    reply = sentinel.call("SENTINEL", "master", master_set)
    assert isinstance(reply, list), reply
    return {str(k): str(v) for k, v in zip(reply[::2], reply[1::2], strict=True)}


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print a measured figure (visible in the pytest output)."""
    with capsys.disabled():
        print(f"\n{text}")


def test_sentinels_know_each_other_and_the_proxies_route_to_the_master(settled: Cluster) -> None:
    master = settled.master_index()
    for pod in settled.redis.pods:
        sentinel = settled.client(pod.address, 26379)
        info = sentinel.call("SENTINEL", "master", settled.construct.name)
        assert isinstance(info, list)
        fields = dict(zip(info[::2], info[1::2], strict=True))
        assert fields["quorum"] == str(REPLICAS // 2 + 1), pod.name
        assert fields["ip"] == f"{settled.redis.pods[master].name}.redis-headless", pod.name
        assert settled.sentinel_view(settled.redis.pods.index(pod)) == (2, 2), pod.name
        # A link to a recreated pod's old address is dropped after 3 s, not Sentinel's 15 s.
        timings = sentinel.call("SENTINEL", "DEBUG")
        assert isinstance(timings, list), timings
        assert (
            dict(zip(timings[::2], timings[1::2], strict=True))["MIN-LINK-RECONNECT-PERIOD"]
            == "3000"
        ), pod.name
    value = secrets.token_hex(8)
    for proxy in settled.proxy.pods:
        through = settled.client(proxy.address)
        assert replication(through)["role"] == "master"
        assert through.call("SET", "through-the-proxy", value) == "OK"
        assert through.call("WAIT", str(REPLICAS - 1), "5000") == REPLICAS - 1
    for index in range(REPLICAS):
        assert settled.pod_client(index).call("GET", "through-the-proxy") == value
    assert settled.master_index() == master


def test_sentinel_and_proxy_refuse_unauthenticated_clients(settled: Cluster) -> None:
    for address, port in (
        (settled.redis.pods[0].address, 26379),
        (settled.proxy.pods[0].address, 6379),
    ):
        client = Client(settled.network.connect(address, port))
        settled.clients.append(client)
        with pytest.raises(ReplyError, match=r"^NOAUTH"):
            client.call("PING" if port == 26379 else "GET", "anything")


def test_passwords_reach_sentinel_and_haproxy_through_private_files_only(settled: Cluster) -> None:
    secret = settled.password.encode()
    as_hex = secret.hex().encode()
    seen = 0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes()
                assert secret not in cmdline and as_hex not in cmdline, f"pid {proc.name}"
                seen += 1
    assert seen > 2 * REPLICAS
    for run, container, path, owner in (
        (settled.redis, "redis", "run/redis/redis.conf", 999),
        (settled.redis, "sentinel", "run/sentinel/sentinel.conf", 999),
        (settled.proxy, "haproxy", "run/haproxy/haproxy.cfg", 99),
    ):
        for index, pod in enumerate(run.pods):
            # What the server gets, shown by a stand-in: argv and environment (redis-server
            # overwrites its /proc environ with its process title, so /proc cannot tell).
            binary = {"redis": "redis-server", "sentinel": "redis-sentinel"}.get(
                container, "haproxy"
            )
            argv = [
                "/bin/sh",
                "-c",
                INSTALL_STAND_IN,
                "sh",
                f"/{Path(path).parent}",
                binary,
                *run.containers[container]["command"],
            ]
            returncode, output = run.run(index, argv, timeout=15, container=container)
            assert returncode == 0 and output.count("argv: ") == 1, output
            assert settled.password not in output, f"{pod.name} {container}"
            assert "REDISCLI_AUTH" not in output, f"{pod.name} {container}"
            process = pod.processes[container]
            config = Path(f"/proc/{process.pid}/root/{path}")
            stat = config.stat()
            assert (stat.st_mode & 0o777, stat.st_uid) == (0o600, owner), pod.name
            assert secret in config.read_bytes() or as_hex in config.read_bytes(), pod.name


def test_master_kill_9_fails_over_and_the_old_master_rejoins_as_a_replica(
    settled: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    old = settled.master_index()
    stream = WriteStream(settled)
    with ThreadPoolExecutor(max_workers=1) as pool:
        writer = pool.submit(stream.run, 150)
        time.sleep(3)
        killed_at = time.monotonic()
        settled.redis.kill(old)
        # Write on until the sentinels name a new master and writes succeed again (a write
        # in flight at the kill may succeed at once: it does not count) ...
        deadline = time.monotonic() + SETTLE_TIMEOUT
        new = old
        while new == old and time.monotonic() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(OSError, ReplyError, AssertionError):
                new = settled.master_index()
        switched_at = time.monotonic()
        while not [t for t in stream.successes if t > switched_at]:
            assert time.monotonic() < deadline, stream.errors[-5:]
            time.sleep(0.2)
        time.sleep(3)
        # ... then restart the old master's pod on its old data, with the writes going on.
        restarted_at = time.monotonic()
        settled.redis.start(old)
        settled.redis.wait_ready(old, SETTLE_TIMEOUT)
        assert settled.wait_settled() == new
        time.sleep(3)
        stream.stop_at = time.monotonic()
        writer.result(timeout=SETTLE_TIMEOUT)
    outage, resumed = stream.outage(killed_at)
    rejoin_gap, _ = stream.outage(restarted_at)
    assert new != old and resumed < restarted_at
    client = settled.pod_client(new)
    assert replication(client)["role"] == "master"
    acknowledged = [key for key, _ in stream.acknowledged]
    kept = keys_present(client, acknowledged)
    errors_after = [e for t, e in stream.errors if t > resumed]
    # What the new master took while the old one was away or rejoining reaches the old one.
    written_to_new = [key for key, at in stream.acknowledged if at > resumed]
    assert client.call("WAIT", str(REPLICAS - 1), "10000") == REPLICAS - 1
    rejoined = replication(settled.pod_client(old))
    kept_on_old = keys_present(settled.pod_client(old), written_to_new)
    report(
        capsys,
        f"master kill -9 (pod {old} -> pod {new}): writes through HAProxy resumed after "
        f"{outage:.1f} s (longest gap between writes); {len(acknowledged)} writes "
        f"acknowledged by WAIT 1, {kept} of them on the new master; {len(stream.errors)} "
        f"errors ({errors_summary(stream.errors)}), {len(errors_after)} after the switch; "
        f"old master's pod restarted under the writes (longest gap then {rejoin_gap:.2f} s): "
        f"back as {rejoined['role']} of {rejoined['master_host']}, with "
        f"{kept_on_old}/{len(written_to_new)} of the keys written to the new master",
    )
    assert outage <= 30, stream.errors[-5:]
    assert kept == len(acknowledged)
    assert errors_after == []  # no READONLY, nor anything else, once switched
    assert rejoined["role"] == "slave"
    assert rejoined["master_host"] == f"{settled.redis.pods[new].name}.redis-headless"
    assert len([at for _, at in stream.acknowledged if at > restarted_at]) > 10
    assert kept_on_old == len(written_to_new)


def test_a_master_back_during_the_failover_is_fenced_and_rejoins_as_a_replica(
    settled: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    old = settled.master_index()
    others = [i for i in range(REPLICAS) if i != old]
    stream = WriteStream(settled)
    with ThreadPoolExecutor(max_workers=1) as pool:
        writer = pool.submit(stream.run, 150)
        time.sleep(3)
        killed_at = time.monotonic()
        settled.redis.kill(old)
        # Restart the old master's pod as soon as a sentinel deems it objectively down: the
        # failover is under way, and no other master exists yet.
        deadline = time.monotonic() + SETTLE_TIMEOUT
        flags = ""
        while "o_down" not in flags:
            assert time.monotonic() < deadline, flags
            time.sleep(0.1)
            with contextlib.suppress(OSError, ReplyError):
                flags = ",".join(
                    sentinel_master(settled.client(settled.redis.pods[i].address, 26379), "redis")[
                        "flags"
                    ]
                    for i in others
                )
        restarted_at = time.monotonic()
        settled.redis.start(old)
        settled.redis.wait_ready(old, SETTLE_TIMEOUT)
        new = settled.wait_settled()
        time.sleep(3)
        stream.stop_at = time.monotonic()
        writer.result(timeout=SETTLE_TIMEOUT)
    outage, resumed = stream.outage(killed_at)
    acknowledged = [key for key, _ in stream.acknowledged]
    client = settled.pod_client(new)
    kept = keys_present(client, acknowledged)
    rejoined = replication(settled.pod_client(old))
    waited = "writes refused until a quorum confirms" in settled.redis.log(old)
    errors_after = [e for t, e in stream.errors if t > resumed]
    report(
        capsys,
        f"master back during the failover (pod {old} restarted "
        f"{restarted_at - killed_at:.1f} s after its kill, at o_down; fenced until the "
        f"sentinels decided: {waited}): writes resumed after {outage:.1f} s; pod {new} master, pod "
        f"{old} {rejoined['role']}; {kept}/{len(acknowledged)} writes acknowledged by WAIT 1 "
        f"on the master; {len(errors_after)} errors after the switch",
    )
    assert new != old and waited
    assert rejoined["role"] == "slave"
    assert kept == len(acknowledged)
    assert errors_after == []
    assert outage <= 30


def test_replica_kill_9_keeps_writes_flowing(
    settled: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    master = settled.master_index()
    replica = (master + 1) % REPLICAS
    stream = WriteStream(settled)
    with ThreadPoolExecutor(max_workers=1) as pool:
        writer = pool.submit(stream.run, 10)
        time.sleep(3)
        killed_at = time.monotonic()
        settled.redis.kill(replica)
        writer.result(timeout=30)
    longest = max((b - a for a, b in itertools.pairwise(stream.successes)), default=0.0)
    after = [t for t in stream.successes if t > killed_at]
    acknowledged = [key for key, _ in stream.acknowledged]
    settled.redis.start(replica)
    settled.redis.wait_ready(replica, SETTLE_TIMEOUT)
    assert settled.wait_settled() == master
    kept = keys_present(settled.pod_client(master), acknowledged)
    kept_on_replica = keys_present(settled.pod_client(replica), acknowledged)
    report(
        capsys,
        f"replica kill -9 (pod {replica}): longest gap between writes {longest:.2f} s, "
        f"{len(after)} writes after the kill, {len(stream.errors)} errors; "
        f"{kept}/{len(acknowledged)} acknowledged writes on the master, {kept_on_replica} on "
        "the restarted replica",
    )
    assert len(after) > 10 and longest < 5, stream.errors[-5:]
    assert kept == kept_on_replica == len(acknowledged)


def test_a_pod_claiming_the_master_role_without_the_sentinels_gets_no_writes(
    settled: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    # A replica made a master by hand (REPLICAOF NO ONE, no write fence) answers role:master
    # and takes a DEL, as the master does; but no sentinel names it, so HAProxy must not
    # route to it (nor count it: each proxy stays ready, with exactly one server up).
    master = settled.master_index()
    rogue = min(i for i in range(REPLICAS) if i != master)
    names = [f"{pod.name}.{settled.construct.headless_service_name}" for pod in settled.redis.pods]
    claimant = settled.pod_client(rogue)
    failover = settled.construct.failover
    assert failover is not None
    try:
        assert claimant.call("CONFIG", "SET", "min-replicas-to-write", "0") == "OK"
        assert claimant.call("REPLICAOF", "NO", "ONE") == "OK"
        assert replication(claimant)["role"] == "master"
        assert isinstance(claimant.call("DEL", "journal-k8s:proxy-check"), int)
        served: dict[str, int] = {}
        not_ready = 0
        deadline = time.monotonic() + 3 * failover.check_interval_ms / 1000 + 3
        while time.monotonic() < deadline:
            for index, proxy in enumerate(settled.proxy.pods):
                through = settled.client(proxy.address)
                assert through.call("SET", "through-the-proxy", "x") == "OK"
                reply = through.call("CONFIG", "GET", "replica-announce-ip")
                assert isinstance(reply, list), reply
                served[str(reply[1])] = served.get(str(reply[1]), 0) + 1
                through.close()
                not_ready += not settled.proxy.probe(index, "readinessProbe").passed
            time.sleep(0.2)
        named = settled.master_index()
    finally:
        claimant.call("REPLICAOF", names[master], "6379")
        claimant.call("CONFIG", "SET", "min-replicas-to-write", str(failover.min_replicas_to_write))
    report(
        capsys,
        f"pod {rogue} made a master by hand while the sentinels name pod {master}: new "
        f"connections through HAProxy went to {served}; proxy not ready {not_ready} times",
    )
    assert named == master
    assert served.keys() == {names[master]}, served
    assert not_ready == 0


def test_master_refuses_writes_without_a_replica(settled: Cluster) -> None:
    master = settled.master_index()
    replicas = [i for i in range(REPLICAS) if i != master]
    for index in replicas:
        settled.redis.kill(index)
    # One sentinel is left, below the quorum: no failover; the master stops taking writes
    # once its replicas have been silent for min-replicas-max-lag seconds.
    client = settled.pod_client(master)
    lag = settled.construct.failover.min_replicas_max_lag if settled.construct.failover else 0
    deadline = time.monotonic() + lag + 10
    refused = None
    while time.monotonic() < deadline:
        try:
            client.call("SET", "alone", "x")
        except ReplyError as error:
            refused = str(error)
            break
        time.sleep(0.5)
    assert refused is not None and refused.startswith("NOREPLICAS"), refused
    assert settled.master_index() == master


def test_a_password_with_quotes_backslashes_and_spaces_works(
    manifests: tuple[Redis, list[Manifest]],
) -> None:
    need_root()
    need(*POD_BINARIES)
    construct, objects = manifests
    awkward = secrets.token_urlsafe(16) + " \"\\'$`#;\\n{}%s"
    secret = {construct.password.name: {construct.password.key: awkward}}
    with (
        run_network("journal") as network,
        run_stateful_set(objects, construct.name, secret, network) as redis,
        run_stateful_set(objects, construct.proxy_name, secret, network) as proxy,
    ):
        for index in (0, 1):  # the probes of every container authenticate with it
            redis.start(index)
            redis.wait_ready(index)
        proxy.start(0)
        # Ready: its AUTH check passed, and redis-0 reports role:master and takes a write
        # (with its replica, min-replicas-to-write is met).
        proxy.wait_ready(0)
        clients = [
            Client(network.connect(address, port))
            for address, port in (
                (redis.pods[0].address, 26379),
                (proxy.pods[0].address, 6379),
            )
        ]
        try:
            for client in clients:
                assert client.call("AUTH", awkward) == "OK"
            sentinel, through_proxy = clients
            # The sentinel's INFO to redis-0 authenticates with it (auth-pass): only then
            # does it learn the server's run id.
            server = str(through_proxy.call("INFO", "server"))
            run_id = re.search(r"^run_id:(\w+)", server, re.M)
            assert run_id is not None, server
            deadline = time.monotonic() + 5
            while (fields := sentinel_master(sentinel, construct.name))["runid"] != run_id[1]:
                assert time.monotonic() < deadline, fields
                time.sleep(0.2)
            assert replication(through_proxy)["role"] == "master"
        finally:
            for client in clients:
                client.close()


def test_pod_0_bootstraps_as_master_only_when_no_other_pod_exists(
    manifests: tuple[Redis, list[Manifest]],
) -> None:
    # No pod exists: every question to the other sentinels fails and their names do not
    # resolve, so pod 0 starts as the master and pod 1 as a replica of pod 0 (what a
    # stand-in redis-server is given shows it).
    need_root()
    need(*POD_BINARIES)
    construct, objects = manifests
    secret = {construct.password.name: {construct.password.key: secrets.token_urlsafe(16)}}
    with (
        run_network("journal") as network,
        run_stateful_set(objects, construct.name, secret, network) as redis,
    ):
        configs = []
        for index in (0, 1):
            argv = ["/bin/sh", "-c", INSTALL_STAND_IN, "sh", "/run/redis", "redis-server"]
            show = "cat /run/redis/redis.conf"
            command = [*redis.container["command"]]
            returncode, output = redis.run(
                index,
                [*argv, "/bin/sh", "-c", f'"$@" >/dev/null; {show}', "sh", *command],
                timeout=30,
            )
            assert returncode == 0, output
            configs.append(output)
        # Pod 1 exists now (its name resolves) but no sentinel answers: pod 0 starts
        # refusing writes (min-replicas-to-write above its possible replicas) instead of
        # bootstrapping on its old data. (Its wait for the sentinels keeps running: the run
        # is cut after 6 s.)
        redis.start(1, ["redis"])
        deadline = time.monotonic() + 10
        while "redis-1" not in str(network.records):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        _, fenced = redis.run(
            0, [*argv, "/bin/sh", "-c", f'"$@" >/dev/null; {show}', "sh", *command], timeout=6
        )
    assert "replicaof" not in configs[0], configs[0]
    assert "min-replicas-to-write" not in configs[0], configs[0]
    assert "replicaof redis-0.redis-headless 6379" in configs[1], configs[1]
    assert "replica-announce-ip redis-1.redis-headless" in configs[1]
    assert "no sentinel answers while other pods exist: writes refused" in fenced, fenced
    assert "min-replicas-to-write 3" in fenced and "replicaof" not in fenced, fenced


def test_a_pod_started_while_no_sentinel_answers_is_fenced_then_follows_the_quorum(
    settled: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every sentinel is down while the Redis servers run, and pod 0 restarts: no sentinel
    # answers and the other pods exist, so it starts refusing writes (not ready) instead of
    # taking them on its old data. Its sentinel finds the master that runs (role:master,
    # with a replica, no fence); the other sentinels, back, take it from that one, and pod 0
    # replicates from it.
    names = [f"{pod.name}.{settled.construct.headless_service_name}" for pod in settled.redis.pods]
    master = settled.master_index()
    if master == 0:  # pod 0 must not be the master: hand over first
        sentinel = settled.client(settled.redis.pods[1].address, 26379)
        assert sentinel.call("SENTINEL", "FAILOVER", settled.construct.name) == "OK"
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while master == 0:
            assert time.monotonic() < deadline
            time.sleep(0.5)
            with contextlib.suppress(OSError, ReplyError, AssertionError):
                master = settled.master_index()
        master = settled.wait_settled()
    for index in range(REPLICAS):
        settled.redis.kill(index, ["sentinel"])
    settled.redis.kill(0)
    started = time.monotonic()
    settled.redis.start(0)
    deadline = started + SETTLE_TIMEOUT
    refused = ""
    while not refused:
        assert time.monotonic() < deadline, settled.redis.log(0)[-3000:]
        time.sleep(0.2)
        with contextlib.suppress(OSError, ReplyError):
            client = settled.pod_client(0)
            try:
                client.call("DEL", "journal-k8s:test-fenced")
            except ReplyError as error:
                refused = str(error)
    info = replication(settled.pod_client(0))
    ready = settled.redis.probe(0, "readinessProbe").passed
    sentinel = settled.client(settled.redis.pods[0].address, 26379)
    monitored = sentinel.call("SENTINEL", "get-master-addr-by-name", settled.construct.name)
    assert isinstance(monitored, list), monitored
    for index in range(1, REPLICAS):
        settled.redis.start(index, ["sentinel"])
    settled.redis.wait_ready(0, SETTLE_TIMEOUT)
    followed = time.monotonic() - started
    rejoined = replication(settled.pod_client(0))
    report(
        capsys,
        f"pod 0 started while no sentinel answered (master pod {master}): {info['role']}, "
        f"writes refused ({refused.split()[0]}), ready: {ready}; its sentinel monitors "
        f"{monitored[0]}; with the other sentinels back: {rejoined['role']} of "
        f"{rejoined.get('master_host')}, ready {followed:.1f} s after its start",
    )
    assert refused.startswith("NOREPLICAS") and info["role"] == "master" and not ready
    assert str(monitored[0]) == names[master]
    assert rejoined["role"] == "slave" and rejoined["master_host"] == names[master]
    assert "writes refused until a quorum decides" in settled.redis.log(0, "redis")
    assert settled.wait_settled() == master


CHECK_KEY = "journal-k8s:test-monitor"
EVENTS = re.compile(
    r"preStop|handed|paused|confirm|failover asked|replicating from|took over|stopping as|TILT"
    r"|answered:"
    r"|[+-](odown|failover|switch|promoted|selected|slave-reconf|sdown master|tilt)"
)
"""The log lines that tell a failure's story: hand-overs, fences and the sentinels' events."""
RUNS = range(1, 4)
"""Each planned or fast restart scenario runs 3 times; every run reports its figures."""


@dataclass
class MasterMonitor:
    """Asks every Redis pod, every 0.2 s, whether it takes a write (a ``DEL`` of a key no one
    uses: ``:0`` from a master that takes writes; ``READONLY``, ``NOREPLICAS`` or a stall
    from any other) and keeps the largest number that did at once."""

    cluster: Cluster
    most: int = 0
    rounds: int = 0
    stop: bool = False

    def run(self) -> None:
        clients: dict[str, Client] = {}
        while not self.stop:
            taking = 0
            for pod in self.cluster.redis.pods:
                if pod.process is None or pod.process.poll() is not None:
                    continue
                try:
                    client = clients.get(pod.address)
                    if client is None:
                        client = Client(self.cluster.network.connect(pod.address, 6379, 0.5))
                        clients[pod.address] = client
                        client.call("AUTH", self.cluster.password)
                    if isinstance(client.call("DEL", CHECK_KEY), int):
                        taking += 1
                except (OSError, ConnectionError, ReplyError) as error:
                    dropped = (
                        None if isinstance(error, ReplyError) else clients.pop(pod.address, None)
                    )
                    if dropped is not None:
                        with contextlib.suppress(OSError):
                            dropped.close()
            self.most = max(self.most, taking)
            self.rounds += 1
            time.sleep(0.2)
        for client in clients.values():
            with contextlib.suppress(OSError):
                client.close()


@dataclass(frozen=True)
class Figures:
    """What one run of a scenario measured."""

    acknowledged: int
    lost: int
    longest_gap: float
    masters: int
    wrote_to: str
    errors: str
    events: str
    """What the sentinels and the preStop hooks logged meanwhile (for a failure's message)."""

    def __str__(self) -> str:
        return (
            f"{self.acknowledged} writes acknowledged by WAIT 1, {self.lost} lost; longest gap "
            f"between writes {self.longest_gap:.1f} s; at most {self.masters} pod(s) taking "
            f"writes at once; writes went to {self.wrote_to}; errors: {self.errors}"
        )


@contextlib.contextmanager
def under_writes(cluster: Cluster) -> Iterator[WriteStream]:
    """A write stream and a master monitor around the block; afterwards the stream's
    ``figures`` attribute holds the run's ``Figures`` (once the cluster has settled)."""
    stream = WriteStream(cluster)
    monitor = MasterMonitor(cluster)
    logs = [(i, c) for i in range(REPLICAS) for c in ("redis", "sentinel")]
    before = {key: len(cluster.redis.log(*key)) for key in logs}
    with ThreadPoolExecutor(max_workers=2) as pool:
        writer = pool.submit(stream.run, 600)
        watcher = pool.submit(monitor.run)
        try:
            time.sleep(2)
            yield stream
            master = cluster.wait_settled()
            time.sleep(2)
        finally:
            stream.stop_at = time.monotonic()
            monitor.stop = True
            writer.result(timeout=SETTLE_TIMEOUT)
            watcher.result(timeout=SETTLE_TIMEOUT)
    client = cluster.pod_client(master)
    acknowledged = [key for key, _ in stream.acknowledged]
    longest = max((b - a for a, b in itertools.pairwise(stream.successes)), default=0.0)
    order = [server.split(".")[0] for _, server in sorted(stream.servers)]
    stream.figures = Figures(  # type: ignore[attr-defined]
        acknowledged=len(acknowledged),
        lost=len(acknowledged) - keys_present(client, acknowledged),
        longest_gap=longest,
        masters=monitor.most,
        wrote_to=" -> ".join(server for server, _ in itertools.groupby(order)),
        errors=errors_summary(stream.errors),
        events="\n".join(
            f"pod {index} {line}"
            for index, container in logs
            for line in cluster.redis.log(index, container)[before[index, container] :].splitlines()
            if EVENTS.search(line)
        ),
    )


def check(figures: Figures, *, longest_gap: float = 10) -> None:
    """The guarantees of every planned or fast restart: no acknowledged write lost, never two
    pods taking writes at once, and writes resumed within ``longest_gap`` seconds."""
    assert figures.lost == 0, f"{figures}\n{figures.events}"
    assert figures.masters <= 1, f"{figures}\n{figures.events}"
    assert figures.longest_gap <= longest_gap, f"{figures}\n{figures.events}"
    assert figures.acknowledged > 100, f"{figures}\n{figures.events}"


@pytest.mark.parametrize("run", RUNS)
def test_rolling_restart_hands_over_and_loses_no_acknowledged_write(
    settled: Cluster, capsys: pytest.CaptureFixture[str], run: int
) -> None:
    # As the StatefulSet controller rolls: highest ordinal first, each pod deleted (preStop,
    # SIGTERM, grace period), recreated on its volume with a new address (the old one drops
    # packets), and the next one only once it is ready.
    old = settled.master_index()
    took: list[str] = []
    handed = sum(settled.redis.log(i).count("handed over to") for i in range(REPLICAS))
    with under_writes(settled) as stream:
        for index in reversed(range(REPLICAS)):
            started = time.monotonic()
            stopped = settled.redis.delete(index)
            settled.redis.start(index)
            settled.redis.wait_ready(index, SETTLE_TIMEOUT)
            took.append(
                f"pod {index} stopped in {max(stopped.values()):.1f} s, ready after "
                f"{time.monotonic() - started:.1f} s"
            )
    figures = stream.figures  # type: ignore[attr-defined]
    new = settled.master_index()
    report(
        capsys,
        f"rolling restart run {run} (master pod {old} -> pod {new}; {'; '.join(took)}): {figures}",
    )
    # Each pod that was the master when its turn came handed over before it stopped.
    assert sum(settled.redis.log(i).count("handed over to") for i in range(REPLICAS)) > handed
    check(figures)


def test_a_master_pinging_its_replicas_while_paused_hands_over_at_once(
    settled: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    # A master sends its replicas a PING every repl-ping-replica-period (10 s) even while its
    # writes are paused, and each moves its replication offset on: replicas that acknowledge a
    # later offset than the one the preStop hook noted have every write all the same. Here
    # every second, so that a PING falls within the hand-over.
    old = settled.master_index()
    assert settled.pod_client(old).call("CONFIG", "SET", "repl-ping-replica-period", "1") == "OK"
    handed = settled.redis.log(old).count("handed over to")
    with under_writes(settled) as stream:
        stopped = settled.redis.delete(old)
        settled.redis.start(old)
        settled.redis.wait_ready(old, SETTLE_TIMEOUT)
    figures = stream.figures  # type: ignore[attr-defined]
    report(
        capsys,
        f"master pod {old} pinging every second deleted (redis-server stopped in "
        f"{stopped['redis']:.1f} s; master now pod {settled.master_index()}): {figures}",
    )
    assert settled.redis.log(old).count("handed over to") > handed, figures.events
    assert stopped["redis"] < 8, figures.events
    check(figures, longest_gap=8)


@pytest.mark.parametrize("force", [False, True], ids=["deleted", "killed"])
@pytest.mark.parametrize("run", RUNS)
def test_master_pod_back_within_seconds_never_makes_a_second_master(
    settled: Cluster, capsys: pytest.CaptureFixture[str], run: int, force: bool
) -> None:
    # The master's pod is deleted (preStop, SIGTERM) or killed (kill -9, no hook) and is back
    # with a new address 1 to 3 s later, before the sentinels' down-after (5 s).
    old = settled.master_index()
    away = 1 + (run - 1) % 3
    fenced = "writes refused until a quorum confirms"
    before = settled.redis.log(old).count(fenced)
    with under_writes(settled) as stream:
        settled.redis.delete(old, force=force)
        time.sleep(away)
        settled.redis.start(old)
        settled.redis.wait_ready(old, SETTLE_TIMEOUT)
    figures = stream.figures  # type: ignore[attr-defined]
    new = settled.master_index()
    fenced_now = settled.redis.log(old).count(fenced) > before
    report(
        capsys,
        f"master pod {'killed' if force else 'deleted'} run {run} (pod {old}, back after "
        f"{away} s; master now pod {new}; fenced at start: "
        f"{fenced_now}): {figures}",
    )
    check(figures)


@pytest.mark.parametrize("run", RUNS)
def test_every_pod_deleted_at_once_then_a_failover_right_after(
    settled: Cluster, capsys: pytest.CaptureFixture[str], run: int
) -> None:
    # The StatefulSet deleted and recreated on its volumes: every pod stops at once, then
    # OrderedReady brings them back, pod 0 first. As soon as the last one is ready, the
    # master's pod is killed: the sentinels must know every replica already.
    with under_writes(settled) as stream:
        down_at = time.monotonic()
        with ThreadPoolExecutor(max_workers=REPLICAS) as pool:
            list(pool.map(settled.redis.delete, range(REPLICAS)))
        for index in range(REPLICAS):
            settled.redis.start(index)
            settled.redis.wait_ready(index, SETTLE_TIMEOUT)
        back = time.monotonic() - down_at
        first = settled.master_index()
        killed_at = time.monotonic()
        settled.redis.kill(first)
        deadline = killed_at + SETTLE_TIMEOUT
        while not [t for t in stream.successes if t > killed_at + 0.5]:
            assert time.monotonic() < deadline, stream.errors[-5:]
            time.sleep(0.2)
        settled.redis.start(first)
        settled.redis.wait_ready(first, SETTLE_TIMEOUT)
    figures = stream.figures  # type: ignore[attr-defined]
    outage, _ = stream.outage(killed_at)
    report(
        capsys,
        f"every pod deleted at once run {run} (all ready again {back:.1f} s after the "
        f"deletion, master pod {first}), then that pod killed as soon as all were ready "
        f"(writes resumed after {outage:.1f} s; master now pod {settled.master_index()}): "
        f"{figures}",
    )
    check(figures, longest_gap=back + 10)
    assert outage <= 15, stream.errors[-5:]


@pytest.mark.parametrize("run", RUNS)
def test_sentinels_restarted_one_by_one_change_nothing_for_writes(
    settled: Cluster, capsys: pytest.CaptureFixture[str], run: int
) -> None:
    # Every sentinel container is stopped (SIGTERM) and started again, one after the other,
    # each ready before the next, as a rollout of a sentinel-only change would.
    old = settled.master_index()
    with under_writes(settled) as stream:
        for index in reversed(range(REPLICAS)):
            settled.redis.signal(index, signal.SIGTERM, "sentinel")
            settled.redis.pods[index].processes.pop("sentinel").wait(timeout=30)
            settled.redis.start(index, ["sentinel"])
            settled.redis.wait_ready(index, SETTLE_TIMEOUT)
    figures = stream.figures  # type: ignore[attr-defined]
    report(capsys, f"sentinels restarted one by one run {run} (master pod {old}): {figures}")
    assert settled.master_index() == old
    check(figures, longest_gap=5)
