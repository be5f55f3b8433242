"""Run the pods of synthesized StatefulSets and Deployments as local processes, in namespaces.

Every pod gets a network namespace on a private bridge (addresses in 10.244.0.0/24 exist only
inside the namespaces made here, and nothing routes out of them), a hosts file with the per-pod
DNS names its governing headless Service would give, and a read-only root file system (the
machine's, through an overlay) with the pod's volumes at their ``mountPath``s. Its command runs
with the pod's user and group, as a container's would. A "node" namespace holds the bridge and
is where the test's own connections come from; it also runs a small DNS server that answers
for every pod's name, as the cluster DNS would. Several workloads can share one ``Network``.
Every container of a pod is a process of its own (sharing the pod's network namespace). Exec
and HTTP probes run as the kubelet would run them. Everything is removed on exit, also on
failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal_k8s import grammar

Manifest = dict[str, Any]

SUBNET = "10.244.0"
NODE_ADDRESS = f"{SUBNET}.1"
CLUSTER_DOMAIN = "cluster.local"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The ``PATH`` of the official images, which a container inherits."""

IMAGE_BINARIES: dict[str, dict[str, str]] = {
    "oliver006/redis_exporter": {"/redis_exporter": "/usr/bin/prometheus-redis-exporter"},
    "nginx/nginx-prometheus-exporter": {
        "/usr/bin/nginx-prometheus-exporter": "/usr/bin/prometheus-nginx-exporter"
    },
}
"""Where an image keeps a binary that Debian installs elsewhere: a container of that image
sees, at the image's path, a link to the Debian binary (the same program, as packaged)."""

_NETNS_HOSTS = Path("/etc/netns")
_CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)
_KERNEL_DIRS = ("dev", "proc", "sys")
_NO_ONE = "02:00:00:00:de:ad"
"""A locally administered MAC address that no interface of the harness has."""
_BRIDGE_MAC = "02:00:00:00:00:01"
"""The bridge's own (locally administered) MAC address: the node's, and the cluster DNS's."""


@dataclass
class Pod:
    """One pod of the workload and the processes of its containers, while they run."""

    name: str
    address: str
    netns: str
    labels: dict[str, str]
    volumes: Path
    main: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    dns_delay: float = 0
    """Seconds before the cluster DNS answers for the pod's name at its next start."""

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The main (first) container's process, if it runs."""
        return self.processes.get(self.main)


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one exec probe: whether it passed, and what it printed."""

    passed: bool
    output: str


class Network:
    """A private bridge in a "node" network namespace, with a DNS server for the pods' names.

    Create it with ``run_network``; pods of several workloads then reach one another.
    """

    def __init__(self, stack: contextlib.ExitStack, namespace: str) -> None:
        self._stack = stack
        self.namespace = namespace
        self.prefix = f"jk{os.getpid()}-{secrets.token_hex(2)}"
        self.node_netns = f"{self.prefix}-node"
        self.records: dict[str, str] = {}
        """Fully qualified names and the pod addresses the DNS server answers with."""
        self._next_host = 10
        self.buried: set[str] = set()
        """Addresses of deleted pods: packets to them are dropped."""
        self.links: dict[str, str] = {}
        """Every network namespace on the bridge and its device there."""
        self.lock = threading.Lock()
        """Held while a pod's address changes (pods may be deleted at once)."""
        self.add_netns(self.node_netns)
        for command in (
            # A fixed address: a bridge otherwise takes the lowest of its ports' addresses,
            # which changes as pods come and go, and the pods' ARP entries for the node (the
            # cluster DNS) would point at a stale one for seconds, dropping their DNS queries.
            ["link", "add", "br0", "address", _BRIDGE_MAC, "type", "bridge"],
            ["addr", "add", f"{NODE_ADDRESS}/24", "dev", "br0"],
            ["link", "set", "br0", "up"],
        ):
            _check(["ip", "-n", self.node_netns, *command])
        self.links[self.node_netns] = "br0"
        with ThreadPoolExecutor(max_workers=1) as pool:
            dns = pool.submit(_udp_socket_in, self.node_netns, (NODE_ADDRESS, 53)).result()
        stack.callback(dns.close)
        server = threading.Thread(target=_serve_dns, args=(dns, self.records), daemon=True)
        server.start()

    @property
    def search(self) -> list[str]:
        """The DNS search domains of a pod in ``namespace``, as the kubelet writes them."""
        return [f"{self.namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]

    def allocate(self) -> str:
        """A free pod address on the bridge."""
        if self._next_host > 250:
            raise ValueError("at most 240 pods fit the harness's subnet")
        self._next_host += 1
        return f"{SUBNET}.{self._next_host - 1}"

    def add_netns(self, netns: str) -> None:
        """Create network namespace ``netns`` (removed at exit) with its loopback up."""
        _check(["ip", "netns", "add", netns])
        self._stack.callback(_check, ["ip", "netns", "delete", netns])
        _check(["ip", "-n", netns, "link", "set", "lo", "up"])

    def connect(self, address: str, port: int, timeout: float = 5) -> socket.socket:
        """A TCP connection to ``address`` opened from the node's network namespace."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(_connect_in, self.node_netns, (address, port), timeout).result()

    def bury(self, address: str) -> None:
        """From now on, drop every packet to ``address`` silently, as Calico and Cilium do
        for a deleted pod's address: every namespace on the bridge sends it to a MAC address
        no one has (a permanent neighbour entry), so connections to it hang; no reset, no
        ICMP, no ARP failure."""
        self.buried.add(address)
        for netns, device in self.links.items():
            self.blackhole(netns, device, [address])

    def blackhole(self, netns: str, device: str, addresses: Iterable[str]) -> None:
        """Point ``addresses`` at a MAC address no one has, in ``netns`` on ``device``."""
        for address in addresses:
            entry = [address, "lladdr", _NO_ONE, "dev", device, "nud", "permanent"]
            _check(["ip", "-n", netns, "neigh", "replace", *entry])


class StatefulSetRun:
    """The pods of one StatefulSet or Deployment; create it with ``run_stateful_set``."""

    def __init__(
        self,
        objects: Sequence[Manifest],
        name: str,
        secret_data: Mapping[str, Mapping[str, str]],
        workdir: Path,
        stack: contextlib.ExitStack,
        network: Network,
    ) -> None:
        self._objects = objects
        self._workdir = workdir
        self._stack = stack
        self.network = network
        kinds = [o for o in objects if o["metadata"]["name"] == name]
        workload = next(
            (o for o in kinds if o["kind"] in ("StatefulSet", "Deployment")), None
        ) or _find(objects, "StatefulSet", name)
        spec = workload["spec"]
        self._namespace: str = workload["metadata"].get("namespace", "default")
        self._pod_spec: Manifest = spec["template"]["spec"]
        self.containers: dict[str, Manifest] = {c["name"]: c for c in self._pod_spec["containers"]}
        self.container = self._pod_spec["containers"][0]
        """The main (first) container."""
        self._ids = {c: self._user(spec, name) for c, spec in self.containers.items()}
        self._fs_group: int | None = self._pod_spec.get("securityContext", {}).get("fsGroup")
        self._claims = {claim["metadata"]["name"] for claim in spec.get("volumeClaimTemplates", [])}
        self.node_netns = network.node_netns

        stateful = workload["kind"] == "StatefulSet"
        template_labels: dict[str, str] = spec["template"]["metadata"].get("labels", {})
        self.pods = []
        for index in range(spec.get("replicas", 1)):
            pod_name = f"{name}-{index}" if stateful else f"{name}-pod{index}"
            extra = (
                {
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(index),
                }
                if stateful
                else {}
            )
            self.pods.append(
                Pod(
                    name=pod_name,
                    address=network.allocate(),
                    netns=f"{network.prefix}-{pod_name}",
                    labels={**template_labels, **extra},
                    volumes=workdir / "pods" / pod_name,
                    main=self.container["name"],
                )
            )
        self._service_name = spec.get("serviceName") if stateful else None
        services = [
            o["spec"]
            for o in objects
            if o["kind"] == "Service" and o["metadata"]["name"] == self._service_name
        ]
        self._governing: Manifest | None = next(
            (s for s in services if s.get("clusterIP") == "None"), None
        )
        """The headless governing Service's spec: pods have DNS names only with it."""
        for pod in self.pods:
            self._add_pod_network(pod)
            self._prepare_volumes(pod, secret_data)
        self._stack.callback(self._kill_all)

    def _user(self, container: Manifest, name: str) -> tuple[int, int]:
        """The uid and gid a container runs with (its own context over the pod's)."""
        security = {
            **self._pod_spec.get("securityContext", {}),
            **container.get("securityContext", {}),
        }
        if "runAsUser" not in security or "runAsGroup" not in security:
            raise ValueError(
                f"{name} {container['name']}: the harness needs runAsUser and runAsGroup"
            )
        return security["runAsUser"], security["runAsGroup"]

    def start(self, index: int, containers: Sequence[str] | None = None) -> None:
        """Start the containers of pod ``index`` (default: all; again: volumes keep data).

        The cluster DNS answers for its name at once if the governing Service publishes
        addresses of pods that are not ready, else once it is ready (``wait_ready``); a pod
        recreated by ``delete`` gets its name ``dns_delay`` seconds later.
        """
        pod = self.pods[index]
        if self._governing is not None and self._governing.get("publishNotReadyAddresses"):
            self._publish(pod, pod.dns_delay)
        pod.dns_delay = 0
        for container in containers or list(self.containers):
            process = pod.processes.get(container)
            if process is not None and process.poll() is None:
                raise RuntimeError(f"{pod.name} {container} is already running")
            spec = self.containers[container]
            argv = spec["command"] + spec.get("args", [])
            path = self._workdir / f"{pod.name}.{container}.log"
            with path.open("ab") as log:
                # Its output is a file the container's user may reopen (/dev/stdout), as a
                # container's pipe is.
                path.chmod(0o666)
                pod.processes[container] = subprocess.Popen(
                    self._in_pod(pod, argv, container),
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

    def signal(self, index: int, signum: signal.Signals, container: str | None = None) -> None:
        """Send ``signum`` to every process of one container of pod ``index`` (the main one)."""
        process = self.pods[index].processes.get(container or self.container["name"])
        if process is None or process.returncode is not None:
            raise RuntimeError(f"{self.pods[index].name} is not running")
        os.killpg(process.pid, signum)

    def terminate(self, index: int) -> dict[str, float]:
        """Stop pod ``index`` as the kubelet does when the pod is deleted, and return how
        long each container took to stop (seconds).

        Every container at once: its ``preStop`` exec hook if it has one (in a copy of the
        container, as the kubelet's exec), then SIGTERM to its process, and SIGKILL to all its
        processes at the end of the pod's ``terminationGracePeriodSeconds`` (default 30),
        which the hook's time counts in.
        """
        pod = self.pods[index]
        grace = self._pod_spec.get("terminationGracePeriodSeconds", 30)
        start = time.monotonic()
        deadline = start + grace

        def stop(container: str) -> float:
            process = pod.processes.pop(container, None)
            if process is None:
                return 0.0
            hook = self.containers[container].get("lifecycle", {}).get("preStop")
            if hook is not None and process.poll() is None:
                _, output = self.run(
                    index,
                    hook["exec"]["command"],
                    max(deadline - time.monotonic(), 0.1),
                    container,
                )
                with (self._workdir / f"{pod.name}.{container}.log").open("a") as log:
                    log.write(f"preStop: {output}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            return time.monotonic() - start

        containers = [c for c in self.containers if c in pod.processes]
        with ThreadPoolExecutor(max_workers=max(len(containers), 1)) as pool:
            return dict(zip(containers, pool.map(stop, containers), strict=True))

    def delete(
        self, index: int, *, force: bool = False, dns_delay: float = 1.0
    ) -> dict[str, float]:
        """Delete pod ``index`` (``terminate``, or with ``force`` ``kill -9``) as Kubernetes
        would, to be recreated by ``start`` on its volumes: the cluster DNS stops answering
        for its name, and the pod gets a new address; packets to the old one are dropped
        (``Network.bury``). Its name resolves again ``dns_delay`` seconds after the start.
        Returns what ``terminate`` returns (nothing when forced).
        """
        pod = self.pods[index]
        stopped: dict[str, float] = {}
        if force:
            self.kill(index)
        else:
            stopped = self.terminate(index)
        with self.network.lock:
            fqdn = self._fqdn(pod)
            if fqdn is not None:
                self.network.records.pop(fqdn, None)
            host_end = f"veth{pod.address.rsplit('.', 1)[1]}"
            _check(["ip", "-n", self.node_netns, "link", "del", host_end])
            del self.network.links[pod.netns]
            self.network.bury(pod.address)
            pod.address = self.network.allocate()
            pod.dns_delay = dns_delay
            self._add_link(pod)
        return stopped

    def kill(self, index: int, containers: Sequence[str] | None = None) -> None:
        """``kill -9`` every process of the containers of pod ``index`` (all) and reap them."""
        pod = self.pods[index]
        for container in containers or list(self.containers):
            process = pod.processes.pop(container, None)
            if process is None:
                continue
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def run(
        self, index: int, argv: Sequence[str], timeout: float, container: str | None = None
    ) -> tuple[int | None, str]:
        """Run ``argv`` in a fresh copy of a container of pod ``index`` (the main one): its
        exit status and output. The status is None if it did not finish within ``timeout``."""
        return _run(self._in_pod(self.pods[index], argv, container), timeout)

    def probe(self, index: int, kind: str, container: str | None = None) -> ProbeResult:
        """Run a container's ``kind`` probe (e.g. ``readinessProbe``) once, as the kubelet."""
        spec = self.containers[container or self.container["name"]]
        probe = spec[kind]
        timeout = probe.get("timeoutSeconds", 1)
        if "httpGet" in probe:
            return self._http_probe(self.pods[index], spec, probe["httpGet"], timeout)
        returncode, output = self.run(index, probe["exec"]["command"], timeout, spec["name"])
        return ProbeResult(passed=returncode == 0, output=output)

    def wait_ready(self, index: int, timeout: float = 30) -> None:
        """Wait until every container of pod ``index`` passes its startup, then readiness probe."""
        pod = self.pods[index]
        deadline = time.monotonic() + timeout
        for container, spec in self.containers.items():
            for kind in ("startupProbe", "readinessProbe"):
                if kind not in spec:
                    continue
                while not (result := self.probe(index, kind, container)).passed:
                    process = pod.processes.get(container)
                    if process is None or process.poll() is not None:
                        raise RuntimeError(f"{pod.name} {container} exited:\n{self.log(index)}")
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"{pod.name} {container} {kind}: {result.output}\n{self.log(index)}"
                        )
                    time.sleep(0.1)
        if self._governing is not None and not self._governing.get("publishNotReadyAddresses"):
            self._publish(pod)

    def log(self, index: int, container: str | None = None) -> str:
        """Everything pod ``index``'s containers (or one of them) printed, over all their
        starts."""
        if container is not None:
            path = self._workdir / f"{self.pods[index].name}.{container}.log"
            return path.read_text(errors="replace") if path.exists() else ""
        texts = []
        for container in self.containers:
            path = self._workdir / f"{self.pods[index].name}.{container}.log"
            if path.exists():
                texts.append(f"--- {container}\n" + path.read_text(errors="replace"))
        return "\n".join(texts)

    def endpoints(self, service: str) -> list[Pod]:
        """The pods that the Service named ``service`` selects."""
        selector = _find(self._objects, "Service", service)["spec"]["selector"]
        return [pod for pod in self.pods if selector.items() <= pod.labels.items()]

    def connect(self, address: str, port: int, timeout: float = 5) -> socket.socket:
        """A TCP connection to ``address`` opened from the node's network namespace."""
        return self.network.connect(address, port, timeout)

    def _http_probe(
        self, pod: Pod, container: Manifest, action: Manifest, timeout: float
    ) -> ProbeResult:
        port = action["port"]
        if isinstance(port, str):
            port = next(p["containerPort"] for p in container["ports"] if p["name"] == port)
        try:
            with self.connect(pod.address, port, timeout) as connection:
                connection.sendall(
                    f"GET {action['path']} HTTP/1.0\r\nHost: {pod.address}\r\n\r\n".encode()
                )
                reply = b""
                while chunk := connection.recv(4096):
                    reply += chunk
        except OSError as error:
            return ProbeResult(passed=False, output=str(error))
        status = reply.split(b" ", 2)[1:2]
        passed = bool(status) and status[0].isdigit() and 200 <= int(status[0]) < 400
        return ProbeResult(passed=passed, output=reply.decode(errors="replace"))

    def _add_pod_network(self, pod: Pod) -> None:
        if not _NETNS_HOSTS.exists():
            _NETNS_HOSTS.mkdir()
            self._stack.callback(_remove_if_empty, _NETNS_HOSTS)
        self.network.add_netns(pod.netns)
        hosts_dir = _NETNS_HOSTS / pod.netns
        hosts_dir.mkdir()
        self._stack.callback(shutil.rmtree, hosts_dir)
        # The kubelet's options, and the pod's own (dnsConfig) over them.
        options = {"ndots": "5"}
        for option in self._pod_spec.get("dnsConfig", {}).get("options", []):
            options[option["name"]] = option.get("value", "")
        line = " ".join(f"{name}:{value}" if value else name for name, value in options.items())
        (hosts_dir / "resolv.conf").write_text(
            f"nameserver {NODE_ADDRESS}\nsearch {' '.join(self.network.search)}\noptions {line}\n"
        )
        self._add_link(pod)

    def _add_link(self, pod: Pod) -> None:
        """The pod's end of the bridge, with its address, and its hosts file."""
        (_NETNS_HOSTS / pod.netns / "hosts").write_text(self._hosts(pod))
        host_end = f"veth{pod.address.rsplit('.', 1)[1]}"
        pair = ["type", "veth", "peer", "name", "eth0", "netns", pod.netns]
        for command in (
            ["-n", self.node_netns, "link", "add", host_end, *pair],
            ["-n", self.node_netns, "link", "set", host_end, "master", "br0", "up"],
            ["-n", pod.netns, "addr", "add", f"{pod.address}/24", "dev", "eth0"],
            ["-n", pod.netns, "link", "set", "eth0", "up"],
        ):
            _check(["ip", *command])
        self.network.links[pod.netns] = "eth0"
        self.network.blackhole(pod.netns, "eth0", self.network.buried)

    def _hosts(self, pod: Pod) -> str:
        """The hosts file the kubelet writes: localhost and the pod's own names (other pods'
        names are the cluster DNS's: ``_publish``)."""
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        fqdn = self._fqdn(pod)
        if fqdn is None:
            lines.append(f"{pod.address}\t{pod.name}")
        else:
            lines.append(f"{pod.address}\t{fqdn} {pod.name}.{self._service_name} {pod.name}")
        return "\n".join(lines) + "\n"

    def _fqdn(self, pod: Pod) -> str | None:
        """The pod's DNS name, if its governing Service exists, is headless and selects it."""
        if self._governing is None or not self._governing["selector"].items() <= pod.labels.items():
            return None
        return f"{pod.name}.{self._service_name}.{self._namespace}.svc.{CLUSTER_DOMAIN}"

    def _publish(self, pod: Pod, delay: float = 0) -> None:
        """Let the cluster DNS answer for the pod's name (after ``delay`` seconds)."""
        fqdn = self._fqdn(pod)
        if fqdn is None:
            return
        if delay:
            timer = threading.Timer(delay, self.network.records.__setitem__, (fqdn, pod.address))
            timer.daemon = True
            timer.start()
        else:
            self.network.records[fqdn] = pod.address

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

    def _in_pod(self, pod: Pod, argv: Sequence[str], container: str | None = None) -> list[str]:
        """A command line that runs ``argv`` like container ``container`` (the main one) of
        ``pod``.

        It joins the pod's network namespace (``ip netns exec`` also gives it a private mount
        namespace), mounts a read-only overlay of the machine's root with the mount points
        added, mounts the volumes there, and runs ``argv`` in it as the pod's user. ``emptyDir``
        volumes are memory file systems of that one process.
        """
        scratch = self._workdir / "scratch"
        scratch.mkdir(exist_ok=True)
        root, lower = scratch / "root", scratch / "lower"
        spec = self.containers[container or self.container["name"]]
        uid, gid = self._ids[spec["name"]]
        mounts = spec.get("volumeMounts", [])
        q = shlex.quote
        repository = spec["image"].rsplit("@", 1)[0].rsplit(":", 1)[0]
        binaries = IMAGE_BINARIES.get(repository, {})
        lines = [
            "set -eu",
            f"mount -t tmpfs -o size=1m,mode=0755 pod-scratch {q(str(scratch))}",
            f"mkdir -p {q(str(root))} "
            + " ".join(q(f"{lower}{mount['mountPath']}") for mount in mounts),
            *(
                f"mkdir -p {q(str(Path(f'{lower}{path}').parent))} && "
                f"ln -s {q(target)} {q(f'{lower}{path}')}"
                for path, target in binaries.items()
            ),
            f"mount -t overlay -o {q(f'ro,lowerdir={lower}:/')} pod-root {q(str(root))}",
            *(f"mount --rbind /{name} {q(f'{root}/{name}')}" for name in _KERNEL_DIRS),
            f"mount --bind -o ro /etc/hosts {q(f'{root}/etc/hosts')}",
            f"mount --bind -o ro /etc/resolv.conf {q(f'{root}/etc/resolv.conf')}",
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
        env += [f"{var['name']}={var['value']}" for var in spec.get("env", [])]
        lines.append(
            f"exec chroot {q(str(root))} setpriv --reuid {uid} --regid {gid}"
            f' --clear-groups -- env -i {" ".join(q(item) for item in env)} "$@"'
        )
        return ["ip", "netns", "exec", pod.netns, "/bin/sh", "-c", "\n".join(lines), "pod", *argv]

    def _empty_dir(self, source: Manifest) -> str:
        """tmpfs options for an ``emptyDir``: its size limit, world-writable or the fsGroup's."""
        options = (
            ["mode=0777"] if self._fs_group is None else ["mode=2777", f"gid={self._fs_group}"]
        )
        if "sizeLimit" in source:
            options.append(f"size={int(grammar.quantity_value(str(source['sizeLimit'])))}")
        return ",".join(options)

    def _kill_all(self) -> None:
        for index in range(len(self.pods)):
            self.kill(index)


@contextlib.contextmanager
def run_network(namespace: str = "default") -> Iterator[Network]:
    """A private network for the pods of namespace ``namespace``; torn down after."""
    with contextlib.ExitStack() as stack:
        yield Network(stack, namespace)


@contextlib.contextmanager
def run_stateful_set(
    objects: Sequence[Manifest],
    name: str,
    secret_data: Mapping[str, Mapping[str, str]],
    network: Network | None = None,
) -> Iterator[StatefulSetRun]:
    """Set up the pods of the StatefulSet (or Deployment) ``name``, not started, on
    ``network`` (default: a network of their own); tear everything down after.

    ``secret_data`` maps a Secret's name to its keys and values: the Secrets the pods mount
    that are not in ``objects``.
    """
    with (
        tempfile.TemporaryDirectory(prefix="journal-pods-") as workdir,
        contextlib.ExitStack() as stack,
    ):
        if network is None:
            namespace = next(
                (o["metadata"].get("namespace") for o in objects if o["metadata"]["name"] == name),
                None,
            )
            network = Network(stack, namespace or "default")
        yield StatefulSetRun(objects, name, secret_data, Path(workdir), stack, network)


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


def _udp_socket_in(netns: str, address: tuple[str, int]) -> socket.socket:
    """A UDP socket bound in ``netns``; call in a thread of its own (setns is per thread)."""
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _LIBC.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns {netns}: {os.strerror(errno)}")
    finally:
        os.close(fd)
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(address)
    return server


def _serve_dns(server: socket.socket, records: Mapping[str, str]) -> None:
    """Answer A queries for ``records`` (TTL 1 s), NXDOMAIN for other names, until closed."""
    server.settimeout(0.2)
    while server.fileno() >= 0:
        try:
            query, client = server.recvfrom(1500)
        except TimeoutError:
            continue
        except OSError:
            return
        with contextlib.suppress(Exception):
            server.sendto(_dns_answer(query, records), client)


def _dns_answer(query: bytes, records: Mapping[str, str]) -> bytes:
    """The reply to one DNS query (its first question only)."""
    (ident,) = struct.unpack("!H", query[:2])
    labels, offset = [], 12
    while length := query[offset]:
        labels.append(query[offset + 1 : offset + 1 + length].decode().lower())
        offset += 1 + length
    qtype, _ = struct.unpack("!HH", query[offset + 1 : offset + 5])
    question = query[12 : offset + 5]
    address = records.get(".".join(labels))
    answers = b""
    if address is not None and qtype == 1:
        answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(address)
    rcode = 0 if address is not None else 3
    header = struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
    return header + question + answers
