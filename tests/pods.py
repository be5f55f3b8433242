"""Run the pods of a synthesized StatefulSet as local processes, each in namespaces of its own.

Every pod gets a network namespace on a private bridge (addresses in 10.244.0.0/24 exist only
inside the namespaces made here, and nothing routes out of them), a hosts file with the per-pod
DNS names its governing headless Service would give, and a read-only root file system (the
machine's, through an overlay) with the pod's volumes at their ``mountPath``s. Its command runs
with the pod's user and group, as a container's would. A "node" namespace holds the bridge and
is where the test's own connections come from. Everything is removed on exit, also on failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Manifest = dict[str, Any]

SUBNET = "10.244.0"
NODE_ADDRESS = f"{SUBNET}.1"
CLUSTER_DOMAIN = "cluster.local"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The ``PATH`` of the official images, which a container inherits."""

_NETNS_HOSTS = Path("/etc/netns")
_CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)
_QUANTITY = re.compile(r"(\d+)(Ki|Mi|Gi|k|M|G)?")
_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
_KERNEL_DIRS = ("dev", "proc", "sys")


@dataclass
class Pod:
    """One pod of the StatefulSet and the process of its container, if it runs."""

    name: str
    address: str
    netns: str
    labels: dict[str, str]
    volumes: Path
    process: subprocess.Popen[bytes] | None = None


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one exec probe: whether it passed, and what it printed."""

    passed: bool
    output: str


class StatefulSetRun:
    """The pods of one StatefulSet; create it with ``run_stateful_set``."""

    def __init__(
        self,
        objects: Sequence[Manifest],
        name: str,
        secret_data: Mapping[str, Mapping[str, str]],
        workdir: Path,
        stack: contextlib.ExitStack,
    ) -> None:
        self._objects = objects
        self._workdir = workdir
        self._stack = stack
        stateful_set = _find(objects, "StatefulSet", name)
        spec = stateful_set["spec"]
        self._namespace: str = stateful_set["metadata"].get("namespace", "default")
        self._pod_spec: Manifest = spec["template"]["spec"]
        (self.container,) = self._pod_spec["containers"]
        security = {
            **self._pod_spec.get("securityContext", {}),
            **self.container.get("securityContext", {}),
        }
        if "runAsUser" not in security or "runAsGroup" not in security:
            raise ValueError(f"{name}: the harness needs runAsUser and runAsGroup")
        self._uid: int = security["runAsUser"]
        self._gid: int = security["runAsGroup"]
        self._fs_group: int | None = self._pod_spec.get("securityContext", {}).get("fsGroup")
        self._claims = {claim["metadata"]["name"] for claim in spec.get("volumeClaimTemplates", [])}

        prefix = f"jk{os.getpid()}-{secrets.token_hex(2)}"
        self.node_netns = f"{prefix}-node"
        self._add_netns(self.node_netns)
        for command in (
            ["link", "add", "br0", "type", "bridge"],
            ["addr", "add", f"{NODE_ADDRESS}/24", "dev", "br0"],
            ["link", "set", "br0", "up"],
        ):
            _check(["ip", "-n", self.node_netns, *command])

        template_labels: dict[str, str] = spec["template"]["metadata"].get("labels", {})
        self.pods = [
            Pod(
                name=f"{name}-{index}",
                address=f"{SUBNET}.{10 + index}",
                netns=f"{prefix}-{name}-{index}",
                labels={
                    **template_labels,
                    "statefulset.kubernetes.io/pod-name": f"{name}-{index}",
                    "apps.kubernetes.io/pod-index": str(index),
                },
                volumes=workdir / "pods" / f"{name}-{index}",
            )
            for index in range(spec.get("replicas", 1))
        ]
        if len(self.pods) > 200:
            raise ValueError(f"{name}: at most 200 pods fit the harness's subnet")
        for index, pod in enumerate(self.pods):
            self._add_pod_network(index, self._hosts(pod, spec.get("serviceName")))
            self._prepare_volumes(pod, secret_data)
        self._stack.callback(self._kill_all)

    def start(self, index: int) -> None:
        """Start the container of pod ``index`` (again: its volumes keep their data)."""
        pod = self.pods[index]
        if pod.process is not None and pod.process.poll() is None:
            raise RuntimeError(f"{pod.name} is already running")
        argv = self.container["command"] + self.container.get("args", [])
        with (self._workdir / f"{pod.name}.log").open("ab") as log:
            pod.process = subprocess.Popen(
                self._in_pod(pod, argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_all(self, timeout: float = 30) -> None:
        """Start every pod in order, each ready before the next (``OrderedReady``)."""
        for index in range(len(self.pods)):
            self.start(index)
            self.wait_ready(index, timeout)

    def signal(self, index: int, signum: signal.Signals) -> None:
        """Send ``signum`` to every process of pod ``index``'s container."""
        process = self.pods[index].process
        if process is None or process.returncode is not None:
            raise RuntimeError(f"{self.pods[index].name} is not running")
        os.killpg(process.pid, signum)

    def kill(self, index: int) -> None:
        """``kill -9`` every process of pod ``index``'s container and reap it."""
        process = self.pods[index].process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.pods[index].process = None

    def run(self, index: int, argv: Sequence[str], timeout: float) -> tuple[int | None, str]:
        """Run ``argv`` in a fresh container of pod ``index``: its exit status and output.

        The status is None if ``argv`` did not finish within ``timeout`` seconds.
        """
        return _run(self._in_pod(self.pods[index], argv), timeout)

    def probe(self, index: int, kind: str) -> ProbeResult:
        """Run the container's ``kind`` exec probe (e.g. ``readinessProbe``) once, in the pod."""
        probe = self.container[kind]
        returncode, output = self.run(
            index, probe["exec"]["command"], probe.get("timeoutSeconds", 1)
        )
        return ProbeResult(passed=returncode == 0, output=output)

    def wait_ready(self, index: int, timeout: float = 30) -> None:
        """Wait until pod ``index`` passes its startup probe, then its readiness probe."""
        pod = self.pods[index]
        deadline = time.monotonic() + timeout
        for kind in ("startupProbe", "readinessProbe"):
            while not (result := self.probe(index, kind)).passed:
                if pod.process is None or pod.process.poll() is not None:
                    raise RuntimeError(f"{pod.name} exited:\n{self.log(index)}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{pod.name} {kind}: {result.output}\n{self.log(index)}")
                time.sleep(0.1)

    def log(self, index: int) -> str:
        """Everything pod ``index``'s container printed, over all its starts."""
        path = self._workdir / f"{self.pods[index].name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def endpoints(self, service: str) -> list[Pod]:
        """The pods that the Service named ``service`` selects."""
        selector = _find(self._objects, "Service", service)["spec"]["selector"]
        return [pod for pod in self.pods if selector.items() <= pod.labels.items()]

    def connect(self, address: str, port: int, timeout: float = 5) -> socket.socket:
        """A TCP connection to ``address`` opened from the node's network namespace."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(_connect_in, self.node_netns, (address, port), timeout).result()

    def _add_netns(self, netns: str) -> None:
        _check(["ip", "netns", "add", netns])
        self._stack.callback(_check, ["ip", "netns", "delete", netns])
        _check(["ip", "-n", netns, "link", "set", "lo", "up"])

    def _add_pod_network(self, index: int, hosts: str) -> None:
        pod = self.pods[index]
        if not _NETNS_HOSTS.exists():
            _NETNS_HOSTS.mkdir()
            self._stack.callback(_remove_if_empty, _NETNS_HOSTS)
        self._add_netns(pod.netns)
        hosts_dir = _NETNS_HOSTS / pod.netns
        hosts_dir.mkdir()
        self._stack.callback(shutil.rmtree, hosts_dir)
        (hosts_dir / "hosts").write_text(hosts)
        host_end = f"veth{index}"
        pair = ["type", "veth", "peer", "name", "eth0", "netns", pod.netns]
        for command in (
            ["-n", self.node_netns, "link", "add", host_end, *pair],
            ["-n", self.node_netns, "link", "set", host_end, "master", "br0", "up"],
            ["-n", pod.netns, "addr", "add", f"{pod.address}/24", "dev", "eth0"],
            ["-n", pod.netns, "link", "set", "eth0", "up"],
        ):
            _check(["ip", *command])

    def _hosts(self, pod: Pod, service_name: str | None) -> str:
        """The kubelet's hosts file plus what cluster DNS would answer for the other pods.

        Pods have DNS names only when the governing Service exists, is headless and selects them.
        """
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        services = [
            o
            for o in self._objects
            if o["kind"] == "Service" and o["metadata"]["name"] == service_name
        ]
        headless = [s["spec"] for s in services if s["spec"].get("clusterIP") == "None"]
        named = [
            p for p in self.pods if headless and headless[0]["selector"].items() <= p.labels.items()
        ]
        for other in named:
            host = f"{other.name}.{service_name}"
            fqdn = f"{host}.{self._namespace}.svc.{CLUSTER_DOMAIN}"
            alias = f" {other.name}" if other is pod else ""
            lines.append(f"{other.address}\t{fqdn} {host}{alias}")
        if pod not in named:
            lines.append(f"{pod.address}\t{pod.name}")
        return "\n".join(lines) + "\n"

    def _prepare_volumes(self, pod: Pod, secret_data: Mapping[str, Mapping[str, str]]) -> None:
        """Write the pod's ConfigMap and Secret files, and create its claim directories."""
        for volume in self._pod_spec.get("volumes", []):
            if "configMap" in volume:
                source = volume["configMap"]
                data = _find(self._objects, "ConfigMap", source["name"])["data"]
            elif "secret" in volume:
                source = volume["secret"]
                data = secret_data[source["secretName"]]
            else:
                continue
            directory = pod.volumes / volume["name"]
            directory.mkdir(parents=True)
            self._own(directory, 0o755)
            items = source.get("items") or [{"key": key, "path": key} for key in data]
            for item in items:
                path = directory / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(data[item["key"]])
                self._own(path, item.get("mode", source.get("defaultMode", 0o644)))
        for claim in self._claims:
            directory = pod.volumes / claim
            directory.mkdir(parents=True)
            self._own(directory, 0o2770 if self._fs_group is not None else 0o777)

    def _own(self, path: Path, mode: int) -> None:
        """Give ``path`` to the pod's fsGroup (group-readable), as the kubelet does."""
        if self._fs_group is not None:
            os.chown(path, 0, self._fs_group)
            mode |= 0o440
        path.chmod(mode)

    def _in_pod(self, pod: Pod, argv: Sequence[str]) -> list[str]:
        """A command line that runs ``argv`` like a container of ``pod``.

        It joins the pod's network namespace (``ip netns exec`` also gives it a private mount
        namespace), mounts a read-only overlay of the machine's root with the mount points
        added, mounts the volumes there, and runs ``argv`` in it as the pod's user. ``emptyDir``
        volumes are memory file systems of that one process.
        """
        scratch = self._workdir / "scratch"
        scratch.mkdir(exist_ok=True)
        root, lower = scratch / "root", scratch / "lower"
        mounts = self.container.get("volumeMounts", [])
        q = shlex.quote
        lines = [
            "set -eu",
            f"mount -t tmpfs -o size=1m,mode=0755 pod-scratch {q(str(scratch))}",
            f"mkdir -p {q(str(root))} "
            + " ".join(q(f"{lower}{mount['mountPath']}") for mount in mounts),
            f"mount -t overlay -o {q(f'ro,lowerdir={lower}:/')} pod-root {q(str(root))}",
            *(f"mount --rbind /{name} {q(f'{root}/{name}')}" for name in _KERNEL_DIRS),
            f"mount --bind -o ro /etc/hosts {q(f'{root}/etc/hosts')}",
        ]
        volumes = {volume["name"]: volume for volume in self._pod_spec.get("volumes", [])}
        for mount in mounts:
            if "subPath" in mount:
                raise NotImplementedError(f"{mount['name']}: subPath is not supported")
            target = q(f"{root}{mount['mountPath']}")
            read_only = ",ro" if mount.get("readOnly") else ""
            volume = volumes.get(mount["name"], {})
            if mount["name"] in self._claims or "configMap" in volume or "secret" in volume:
                source = q(str(pod.volumes / mount["name"]))
                lines.append(f"mount --bind -o bind{read_only} {source} {target}")
            elif "emptyDir" in volume:
                options = self._empty_dir(volume["emptyDir"])
                lines.append(f"mount -t tmpfs -o {options} pod-empty {target}")
            else:
                raise NotImplementedError(
                    f"{mount['name']}: not a claim, configMap, secret or emptyDir"
                )
        env = [f"HOSTNAME={pod.name}", f"PATH={IMAGE_PATH}", "HOME=/"]
        env += [f"{var['name']}={var['value']}" for var in self.container.get("env", [])]
        lines.append(
            f"exec chroot {q(str(root))} setpriv --reuid {self._uid} --regid {self._gid}"
            f' --clear-groups -- env -i {" ".join(q(item) for item in env)} "$@"'
        )
        return ["ip", "netns", "exec", pod.netns, "/bin/sh", "-c", "\n".join(lines), "pod", *argv]

    def _empty_dir(self, source: Manifest) -> str:
        """tmpfs options for an ``emptyDir``: its size limit, world-writable or the fsGroup's."""
        options = (
            ["mode=0777"] if self._fs_group is None else ["mode=2777", f"gid={self._fs_group}"]
        )
        if "sizeLimit" in source:
            match = _QUANTITY.fullmatch(str(source["sizeLimit"]))
            if match is None:
                raise ValueError(f"sizeLimit {source['sizeLimit']!r} is not supported")
            options.append(f"size={int(match[1]) * _UNITS[match[2]]}")
        return ",".join(options)

    def _kill_all(self) -> None:
        for index in range(len(self.pods)):
            self.kill(index)


@contextlib.contextmanager
def run_stateful_set(
    objects: Sequence[Manifest], name: str, secret_data: Mapping[str, Mapping[str, str]]
) -> Iterator[StatefulSetRun]:
    """Set up the pods of the StatefulSet ``name`` (not started); tear everything down after.

    ``secret_data`` maps a Secret's name to its keys and values: the Secrets the pods mount
    that are not in ``objects``.
    """
    with (
        tempfile.TemporaryDirectory(prefix="journal-pods-") as workdir,
        contextlib.ExitStack() as stack,
    ):
        yield StatefulSetRun(objects, name, secret_data, Path(workdir), stack)


def _find(objects: Sequence[Manifest], kind: str, name: str) -> Manifest:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    if len(matches) != 1:
        raise LookupError(f"expected one {kind} {name!r}, found {len(matches)}")
    return matches[0]


def _check(argv: Sequence[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed: {result.stderr.strip()}")


def _run(argv: Sequence[str], timeout: float) -> tuple[int | None, str]:
    """Run ``argv`` in a session of its own; on timeout kill the session (returncode None)."""
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate(timeout=10)
            return None, output.decode(errors="replace") + f"\n(timed out after {timeout} s)"
    return process.returncode, output.decode(errors="replace")


def _connect_in(netns: str, address: tuple[str, int], timeout: float) -> socket.socket:
    """Open a TCP connection from ``netns``; call in a thread of its own (setns is per thread)."""
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _LIBC.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns {netns}: {os.strerror(errno)}")
    finally:
        os.close(fd)
    return socket.create_connection(address, timeout=timeout)


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()
