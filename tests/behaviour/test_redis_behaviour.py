"""The synthesized Redis StatefulSet, run for real: redis-server in one namespace set per pod.

Needs root (network and mount namespaces) and the Debian packages redis-server, redis-tools,
iproute2, util-linux, dash and shellcheck. A missing package is installed if possible; if it
is still missing the tests fail under CI (``CI=true``) and are skipped elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cdk8s
import pytest
from pods import Pod, StatefulSetRun, run_stateful_set

from journal_k8s import Redis
from support import Manifest, find, require_binary, synth

pytestmark = pytest.mark.real

REPLICAS = 3
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
PACKAGES = {
    "redis-server": "redis-server",
    "redis-sentinel": "redis-sentinel",
    "haproxy": "haproxy",
    "redis-cli": "redis-tools",
    "ip": "iproute2",
    "setpriv": "util-linux",
    "mount": "mount",
    "chroot": "coreutils",
    "dash": "dash",
    "shellcheck": "shellcheck",
    "nginx": "nginx",
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-redis-exporter": "prometheus-redis-exporter",
    "prometheus-nginx-exporter": "prometheus-nginx-exporter",
}
"""The binaries these tests run, and the Debian package of each."""
POD_BINARIES = ("redis-server", "redis-cli", "ip", "setpriv", "mount", "chroot")
"""What running the pods needs."""

STAND_IN = """\
#!/bin/sh
echo "argv: $*"
stat -c "mode: %a %u:%g" "$1"
cat "$1"
"""
INSTALL_STAND_IN = """\
mkdir /run/redis/bin
printf '%s' "$1" > /run/redis/bin/redis-server
chmod 755 /run/redis/bin/redis-server
shift
export PATH="/run/redis/bin:$PATH"
exec "$@"
"""
"""Runs ``$2...`` with the script ``$1`` as ``redis-server`` (on the pod's emptyDir)."""

Reply = str | int | list[Any] | None


class ReplyError(Exception):
    """An error reply from Redis."""


class Client:
    """A minimal RESP client on one connection: enough to drive and inspect the pods."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._reader = connection.makefile("rb")

    def call(self, *args: str) -> Reply:
        """Send one command and return its reply; an error reply raises ``ReplyError``."""
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._connection.sendall(b"".join(parts))
        return self._read()

    def close(self) -> None:
        """Close the connection."""
        self._reader.close()
        self._connection.close()

    def _read(self) -> Reply:
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("the server closed the connection")
        kind, body = line[:1], line[1:-2].decode()
        if kind == b"+":
            return body
        if kind == b"-":
            raise ReplyError(body)
        if kind == b":":
            return int(body)
        if kind == b"$":
            return None if int(body) < 0 else self._reader.read(int(body) + 2)[:-2].decode()
        if kind == b"*":
            return None if int(body) < 0 else [self._read() for _ in range(int(body))]
        raise ConnectionError(f"unexpected reply {line!r}")


def need(*binaries: str) -> None:
    """Install what is missing if possible; then fail (under CI) or skip if still missing."""
    missing = sorted({PACKAGES[b] for b in binaries if shutil.which(b) is None})
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        install(missing)
    for binary in binaries:
        require_binary(binary)


def install(packages: list[str]) -> None:
    """``apt-get install`` without starting any service the packages bring."""
    policy = Path("/usr/sbin/policy-rc.d")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with contextlib.ExitStack() as stack:
        if not policy.exists():
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
            stack.callback(policy.unlink)
        for argv in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        ):
            subprocess.run(argv, env=env, capture_output=True, timeout=300, check=False)


def need_root() -> None:
    """Namespaces and mounts need root: fail under CI, skip elsewhere."""
    if os.geteuid() != 0:
        message = "the Redis behaviour tests need root (network and mount namespaces)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def redis() -> tuple[Redis, list[Manifest]]:
    """The construct under test and its synthesized manifests."""
    chart = cdk8s.Chart(cdk8s.App(), "test", namespace="journal", disable_resource_name_hashes=True)
    construct = Redis(chart, "Redis", replicas=REPLICAS)
    return construct, synth(chart)


@pytest.fixture(scope="module")
def password() -> str:
    """A fresh password for this run only."""
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def running(redis: tuple[Redis, list[Manifest]], password: str) -> Iterator[StatefulSetRun]:
    """The StatefulSet's pods, started in order, each ready before the next."""
    need_root()
    need(*POD_BINARIES)
    construct, objects = redis
    secret = {construct.password.name: {construct.password.key: password}}
    with run_stateful_set(objects, construct.name, secret) as run:
        run.start_all()
        yield run


@pytest.fixture
def cluster(running: StatefulSetRun) -> Iterator[StatefulSetRun]:
    """The running pods; whatever a test stopped is started again, and all are ready after."""
    yield running
    for index, pod in enumerate(running.pods):
        if pod.process is None:
            running.start(index)
        running.wait_ready(index)


@pytest.fixture
def connect(
    cluster: StatefulSetRun, redis: tuple[Redis, list[Manifest]], password: str
) -> Iterator[Callable[..., Client]]:
    """Open a client to a pod (authenticated unless told otherwise); all closed afterwards."""
    clients: list[Client] = []

    def open_client(pod: Pod, *, authenticate: bool = True) -> Client:
        client = Client(cluster.connect(pod.address, redis[0].port))
        clients.append(client)
        if authenticate:
            assert client.call("AUTH", password) == "OK"
        return client

    yield open_client
    for client in clients:
        client.close()


def replication(client: Client) -> dict[str, str]:
    """``INFO replication`` as a dict."""
    info = str(client.call("INFO", "replication"))
    return dict(line.split(":", 1) for line in info.splitlines() if ":" in line)


def config_file(redis: tuple[Redis, list[Manifest]], name: str) -> str:
    """One file of the Redis ConfigMap."""
    construct, objects = redis
    return str(find(objects, "ConfigMap", f"{construct.name}-config")["data"][name])


@pytest.mark.parametrize("script", ["launch.sh", "probe.sh"])
def test_scripts_are_posix_sh(
    redis: tuple[Redis, list[Manifest]], script: str, tmp_path: Path
) -> None:
    need("dash", "shellcheck")
    path = tmp_path / script
    path.write_text(config_file(redis, script))
    shellcheck = ["shellcheck", "-s", "sh", str(path)]
    for argv in (["dash", "-n", str(path)], shellcheck):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, f"{argv[0]}: {result.stdout}{result.stderr}"


def test_every_replica_links_to_the_master(
    cluster: StatefulSetRun, redis: tuple[Redis, list[Manifest]], connect: Callable[..., Client]
) -> None:
    master, *replicas = cluster.pods
    assert replication(connect(master))["role"] == "master"
    assert replication(connect(master))["connected_slaves"] == str(REPLICAS - 1)
    for pod in replicas:
        info = replication(connect(pod))
        assert (info["role"], info["master_link_status"]) == ("slave", "up"), pod.name
        assert info["master_host"] == redis[0].master_host


def test_unauthenticated_commands_are_refused(
    cluster: StatefulSetRun, connect: Callable[..., Client]
) -> None:
    for pod in cluster.pods:
        client = connect(pod, authenticate=False)
        with pytest.raises(ReplyError, match=r"^NOAUTH"):
            client.call("GET", "anything")
        with pytest.raises(ReplyError, match=r"^WRONGPASS"):
            client.call("AUTH", "not-the-password")


def test_writes_through_the_write_service_reach_every_read_endpoint(
    cluster: StatefulSetRun, redis: tuple[Redis, list[Manifest]], connect: Callable[..., Client]
) -> None:
    construct = redis[0]
    writers = cluster.endpoints(construct.write_host)
    readers = cluster.endpoints(construct.read_host)
    assert [pod.name for pod in writers] == ["redis-0"]
    assert readers == cluster.pods
    value = secrets.token_hex(8)
    master = connect(writers[0])
    assert master.call("SET", "replicated", value) == "OK"
    assert master.call("WAIT", str(REPLICAS - 1), "5000") == REPLICAS - 1
    for pod in readers:
        assert connect(pod).call("GET", "replicated") == value, pod.name
    with pytest.raises(ReplyError, match=r"^READONLY"):
        connect(readers[-1]).call("SET", "replicated", "on a replica")


def test_password_reaches_redis_through_a_private_file_only(
    cluster: StatefulSetRun, redis: tuple[Redis, list[Manifest]], password: str
) -> None:
    # The container's command runs with a stand-in redis-server first on PATH; the stand-in
    # shows what the real one gets: its arguments and its config file (mode, owner, content).
    for index in range(REPLICAS):
        argv = ["/bin/sh", "-c", INSTALL_STAND_IN, "sh", STAND_IN, *cluster.container["command"]]
        returncode, output = cluster.run(index, argv, timeout=10)
        assert returncode == 0, output
        lines = output.splitlines()
        assert lines[:2] == ["argv: /run/redis/redis.conf", "mode: 600 999:1000"], output
        assert f'requirepass "{password}"' in lines
        assert f'masterauth "{password}"' in lines
        assert (f"replicaof {redis[0].master_host} 6379" in lines) == (index > 0)
    secret = password.encode()
    seen = 0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                assert secret not in (proc / "cmdline").read_bytes(), f"pid {proc.name}"
                seen += 1
    for pod in cluster.pods:
        assert pod.process is not None
        assert secret not in Path(f"/proc/{pod.process.pid}/environ").read_bytes(), pod.name
    assert seen > REPLICAS


def test_redis_is_the_containers_process_and_runs_as_the_pod_user(cluster: StatefulSetRun) -> None:
    for pod in cluster.pods:
        assert pod.process is not None
        status = Path(f"/proc/{pod.process.pid}/status").read_text()
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert fields["Name"] == "redis-server", pod.name
        cmdline = Path(f"/proc/{pod.process.pid}/cmdline").read_bytes()
        assert cmdline.startswith(b"redis-server *:6379"), pod.name
        assert fields["Uid"].split() == ["999"] * 4, pod.name
        assert fields["Gid"].split() == ["1000"] * 4, pod.name
        assert fields["Groups"].strip() == "", pod.name


def test_probes_pass_on_healthy_pods(cluster: StatefulSetRun) -> None:
    for index, pod in enumerate(cluster.pods):
        for kind in PROBES:
            result = cluster.probe(index, kind)
            assert result.passed, f"{pod.name} {kind}: {result.output}"


def test_probes_fail_when_redis_refuses_the_mounted_password(
    cluster: StatefulSetRun, connect: Callable[..., Client], password: str
) -> None:
    replica = connect(cluster.pods[-1])
    assert replica.call("CONFIG", "SET", "requirepass", secrets.token_urlsafe(32)) == "OK"
    try:
        for kind in PROBES:
            result = cluster.probe(REPLICAS - 1, kind)
            assert not result.passed, kind
            assert "WRONGPASS" in result.output or "NOAUTH" in result.output, result.output
    finally:
        replica.call("CONFIG", "SET", "requirepass", password)
    assert cluster.probe(REPLICAS - 1, "readinessProbe").passed


def test_probes_fail_when_redis_is_stopped(cluster: StatefulSetRun) -> None:
    cluster.kill(REPLICAS - 1)
    for kind in PROBES:
        result = cluster.probe(REPLICAS - 1, kind)
        assert not result.passed, kind
        assert "refused" in result.output, result.output


def test_liveness_fails_when_redis_hangs(cluster: StatefulSetRun) -> None:
    cluster.signal(REPLICAS - 1, signal.SIGSTOP)
    try:
        result = cluster.probe(REPLICAS - 1, "livenessProbe")
    finally:
        cluster.signal(REPLICAS - 1, signal.SIGCONT)
    assert not result.passed
    assert "timed out" in result.output, result.output


def test_acknowledged_writes_survive_kill_9_of_the_master(
    cluster: StatefulSetRun, connect: Callable[..., Client], capsys: pytest.CaptureFixture[str]
) -> None:
    master = connect(cluster.pods[0])
    acknowledged: list[float] = []

    def write_until_the_master_dies() -> None:
        deadline = time.monotonic() + 10
        with contextlib.suppress(OSError):
            while time.monotonic() < deadline:
                master.call("SET", f"durable:{len(acknowledged)}", "x")
                acknowledged.append(time.monotonic())

    with ThreadPoolExecutor(max_workers=1) as pool:
        writer = pool.submit(write_until_the_master_dies)
        time.sleep(3)
        killed_at = time.monotonic()
        cluster.kill(0)
        writer.result(timeout=15)
    cluster.start(0)
    cluster.wait_ready(0)

    restarted = connect(cluster.pods[0])
    keys = [f"durable:{index}" for index in range(len(acknowledged))]
    old = [key for key, at in zip(keys, acknowledged, strict=True) if at < killed_at - 1]
    assert len(old) > 100, f"too few writes before the kill: {len(old)}"
    kept_old = restarted.call("EXISTS", *old)
    kept = restarted.call("EXISTS", *keys)
    with capsys.disabled():
        print(
            f"\nkill -9 of the master: {len(keys)} writes acknowledged, {len(old)} of them more"
            f" than 1 s before the kill; after the restart {kept_old}/{len(old)} of those and"
            f" {kept}/{len(keys)} of all are present"
        )
    assert kept_old == len(old)


def test_killed_replica_resyncs(cluster: StatefulSetRun, connect: Callable[..., Client]) -> None:
    replica = REPLICAS - 1
    cluster.kill(replica)
    master = connect(cluster.pods[0])
    value = secrets.token_hex(8)
    assert master.call("SET", "while-a-replica-was-down", value) == "OK"
    cluster.start(replica)
    cluster.wait_ready(replica)
    assert master.call("WAIT", str(REPLICAS - 1), "5000") == REPLICAS - 1
    restarted = connect(cluster.pods[replica])
    assert replication(restarted)["master_link_status"] == "up"
    assert restarted.call("GET", "while-a-replica-was-down") == value


def test_a_password_with_quotes_backslashes_and_spaces_works(
    redis: tuple[Redis, list[Manifest]],
) -> None:
    need_root()
    need(*POD_BINARIES)
    construct, objects = redis
    awkward = secrets.token_urlsafe(16) + " \"\\'$`#;\\n{}"
    secret = {construct.password.name: {construct.password.key: awkward}}
    with run_stateful_set(objects, construct.name, secret) as run:
        run.start(0)
        run.wait_ready(0)  # the probes authenticate with it too
        client = Client(run.connect(run.pods[0].address, construct.port))
        try:
            assert client.call("AUTH", awkward) == "OK"
            for setting in ("requirepass", "masterauth"):
                assert client.call("CONFIG", "GET", setting) == [setting, awkward]
        finally:
            client.close()
