"""The synthesized NGINX configuration, served by a real nginx the way the Deployment runs it.

The ConfigMap's files and the Deployment's volumes, user and command are taken from the
synthesized manifests. nginx runs as uid 101 on a read-only root filesystem, in a private mount
namespace (so the config's absolute paths point at temporary folders and the host's files stay
untouched) and in a network namespace of its own (so port 8080 clashes with nothing); the HTTP
client runs inside that network namespace and talks to loopback only.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import cdk8s
import pytest

from journal_k8s import JournalService
from support import find, require_binary

pytestmark = pytest.mark.real

SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INDEX = b"<!doctype html><title>Journal</title><h1>Journal</h1>\n"
FINGERPRINTED = "app.0123abcd.css"
BIG_CSS = "styles/site.css"
REQUIRED_HEADERS = {
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Content-Security-Policy",
}
IMMUTABLE = "public, max-age=31536000, immutable"

# Runs inside the network namespace: waits for the port while nginx lives, then sends every
# request on a new connection and prints status, headers and body (base64) as JSON.
CLIENT = """
import base64, http.client, json, socket, sys, time
port, master, requests = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
def alive():
    try:
        with open("/proc/" + master + "/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False
deadline = time.monotonic() + 15
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        if not alive() or time.monotonic() > deadline:
            sys.exit("nginx is not listening on 127.0.0.1:%d" % port)
        time.sleep(0.05)
answers = []
for path, headers in requests:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    answers.append({
        "status": response.status,
        "headers": [[k.lower(), v] for k, v in response.getheaders()],
        "body": base64.b64encode(response.read()).decode(),
    })
    connection.close()
print(json.dumps(answers))
"""


@dataclass(frozen=True)
class Response:
    """One HTTP response as the client saw it."""

    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str:
        """The value of a header that must occur exactly once."""
        values = self.headers.get(name.lower(), [])
        assert len(values) == 1, f"expected one {name} header, got {values}"
        return values[0]


@dataclass(frozen=True)
class Served:
    """What the running nginx showed: its master's /proc status, the answers, its output."""

    stage: Path
    site: Path
    master_status: dict[str, str]
    pid_file: str
    written: list[str]
    worker_statuses: list[dict[str, str]]
    responses: dict[str, Response]
    probe_paths: list[str]
    stdout: str
    stderr: str


def _fail_or_skip(message: str) -> None:
    """A failure under CI (never a skip), a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _write_tree(root: Path, files: dict[str, bytes], mode: int) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)


def _make_read_only(root: Path) -> None:
    """``chmod -R a-w``."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)


def _site_files() -> dict[str, bytes]:
    rule = "".join(f".entry-{i} {{ margin: {i}px; color: #{i:06x}; }}\n" for i in range(120))
    return {
        "index.html": INDEX,
        FINGERPRINTED: ("/* fingerprinted */\n" + rule).encode(),
        BIG_CSS: ("/* site */\n" + rule).encode(),
        "docs/index.html": INDEX,
    }


class Sandbox:
    """Builds the command line that runs a program the way the Deployment runs nginx."""

    def __init__(self, stage: Path, objects: list[dict[str, Any]], site: Path) -> None:
        self.namespace = f"journal-nginx-{os.getpid()}"
        config_map = find(objects, "ConfigMap", "fileserver-nginx")
        pod = find(objects, "Deployment", "fileserver")["spec"]["template"]["spec"]
        (self.container,) = pod["containers"]
        security = {**pod.get("securityContext", {}), **self.container.get("securityContext", {})}
        self.uid, self.gid = security["runAsUser"], security["runAsGroup"]
        self.fs_group = pod["securityContext"].get("fsGroup")
        self.read_only_root = security.get("readOnlyRootFilesystem", False)
        self.no_new_privs = security.get("allowPrivilegeEscalation", True) is False
        self.drop_all = "ALL" in security.get("capabilities", {}).get("drop", [])
        self.files: dict[str, str] = config_map["data"]
        self.command: list[str] = [*self.container["command"], *self.container.get("args", [])]
        root = re.search(r"^\s*root\s+(\S+);", config_map["data"]["nginx.conf"], re.MULTILINE)
        assert root is not None, "nginx.conf sets no document root"
        self.document_root = root.group(1)

        volumes = {v["name"]: v for v in pod["volumes"]}
        self.binds: list[tuple[Path, str, bool]] = []  # (source, target, read-only)
        for mount in self.container["volumeMounts"]:
            volume = volumes[mount["name"]]
            source = stage / "volumes" / mount["name"]
            source.mkdir(parents=True)
            if "configMap" in volume:
                assert volume["configMap"]["name"] == config_map["metadata"]["name"]
                mode = volume["configMap"].get("defaultMode", 0o644)
                files = {k: v.encode() for k, v in config_map["data"].items()}
                _write_tree(source, files, mode)
            elif "emptyDir" in volume:
                # as the kubelet leaves an emptyDir of a pod with fsGroup: group-owned, 2777
                os.chown(source, 0, self.fs_group if self.fs_group is not None else 0)
                source.chmod(0o2777 if self.fs_group is not None else 0o777)
            else:
                raise AssertionError(f"volume {mount['name']!r}: only configMap and emptyDir")
            self.binds.append((source, mount["mountPath"], bool(mount.get("readOnly"))))
        self.binds.append((site, self.document_root, True))
        self.stage = stage
        self._runs = itertools.count()
        self.volumes = {target: source for source, target, _ in self.binds}

    def _script(self) -> str:
        """The shell script that lays out the private mount namespace, then runs ``$@``."""
        lines = ["set -eu"]
        missing = [t for _, t, _ in self.binds if not os.path.isdir(t)]
        overlays: list[str] = []
        for target in missing:
            # A mount point the host lacks: overlay its nearest existing ancestor so that
            # mkdir writes to a temporary upper folder, never to the host's filesystem.
            ancestor = os.path.dirname(target)
            while not os.path.isdir(ancestor):
                ancestor = os.path.dirname(ancestor)
            if ancestor not in overlays:
                overlays.append(ancestor)
        run = self.stage / f"run{next(self._runs)}"
        for number, ancestor in enumerate(overlays):
            upper, work = run / f"overlay{number}" / "upper", run / f"overlay{number}" / "work"
            upper.mkdir(parents=True)
            work.mkdir()
            options = f"lowerdir={ancestor},upperdir={upper},workdir={work}"
            lines.append(
                f"mount -t overlay overlay -o {shlex.quote(options)} {shlex.quote(ancestor)}"
            )
        lines += [f"mkdir -p {shlex.quote(t)}" for t in missing]
        lines += [f"mount -o remount,ro {shlex.quote(a)}" for a in overlays]
        # Mount over the folders that hold the staging area (like /tmp) last, deepest last.
        stage = str(self.stage)
        ordered = sorted(
            self.binds,
            key=lambda b: (stage.startswith(b[1].rstrip("/") + "/"), b[1].count("/")),
        )
        for source, target, read_only in ordered:
            options = "bind,ro" if read_only else "bind"
            lines.append(f"mount -o {options} {shlex.quote(str(source))} {shlex.quote(target)}")
        # A container has a /dev/shm of its own, not the host's.
        lines.append("mount -t tmpfs -o nosuid,nodev,noexec,size=64m shm /dev/shm")
        if self.read_only_root:
            lines.append("mount -o remount,bind,ro /")
        privileges = ["--reuid", str(self.uid), "--regid", str(self.gid), "--clear-groups"]
        if self.no_new_privs:
            privileges.append("--no-new-privs")
        if self.drop_all:
            privileges += ["--inh-caps=-all", "--bounding-set=-all"]
        lines.append(f'exec setpriv {shlex.join(privileges)} -- "$@"')
        return "\n".join(lines)

    def argv(self, command: list[str]) -> list[str]:
        """``command`` in the network namespace and a private mount namespace, as the pod's user."""
        return [
            "ip", "netns", "exec", self.namespace,
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", self._script(), "sh", *command,
        ]  # fmt: skip

    @contextlib.contextmanager
    def output(self, name: str) -> Iterator[tuple[BinaryIO, BinaryIO]]:
        """Files for a program's stdout and stderr, owned by the pod's user.

        nginx reopens ``/dev/stdout`` for its access log; runc hands a container's stdio to the
        container's user (``fixStdioPermissions``), so the files belong to that user here too.
        """
        paths = self.stage / f"{name}.stdout", self.stage / f"{name}.stderr"
        with paths[0].open("wb") as out, paths[1].open("wb") as err:
            for path in paths:
                os.chown(path, self.uid, self.gid)
            yield out, err

    def read_output(self, name: str) -> str:
        """What the program ``name`` wrote to stdout, then to stderr."""
        return "".join((self.stage / f"{name}.{s}").read_text() for s in ("stdout", "stderr"))

    def client(self, port: int, master: int, requests: list[tuple[str, dict[str, str]]]) -> str:
        """Send ``requests`` to loopback:``port`` from inside the network namespace."""
        result = subprocess.run(
            ["ip", "netns", "exec", self.namespace, sys.executable, "-I", "-c", CLIENT,
             str(port), str(master), json.dumps(requests)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout


def _declared_headers(conf: str) -> dict[str, str]:
    """The ``add_header NAME "VALUE" always;`` lines of an NGINX file."""
    found = re.findall(r'^\s*add_header\s+(\S+)\s+"([^"]*)"\s+always;$', conf, re.MULTILINE)
    return dict(found)


def _require_tools() -> None:
    for name in ("nginx", "ip", "unshare", "setpriv", "mount"):
        require_binary(name)
    if os.geteuid() != 0:
        _fail_or_skip("namespaces and mounts need root")
    if not Path("/etc/nginx/mime.types").is_file():
        _fail_or_skip("/etc/nginx/mime.types is missing (Debian package nginx)")


def _requests(probe_paths: list[str]) -> dict[str, tuple[str, dict[str, str]]]:
    gzip_ok = {"Accept-Encoding": "gzip"}
    return {
        "index": ("/", {}),
        "index-gzip": ("/", gzip_ok),
        "index.html": ("/index.html", {}),
        "missing": ("/missing.html", {}),
        "missing-fingerprinted": ("/gone.89abcdef.js", {}),
        "fingerprinted": (f"/{FINGERPRINTED}", {}),
        "fingerprinted-gzip": (f"/{FINGERPRINTED}", gzip_ok),
        "big": (f"/{BIG_CSS}", {}),
        "big-gzip": (f"/{BIG_CSS}", gzip_ok),
        "folder": ("/docs", {"Host": "journal.example.com"}),
        **{f"probe {path}": (path, {}) for path in probe_paths},
    }


@pytest.fixture(scope="module")
def nginx_t(sandbox: Sandbox) -> tuple[int, str]:
    """``nginx -t`` with the container's command, in the sandbox: exit code and output."""
    with sandbox.output("nginx-t") as (out, err):
        code = subprocess.run(
            sandbox.argv([*sandbox.command, "-t"]),
            stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            env={"PATH": SEARCH_PATH}, timeout=60, check=False,
        ).returncode  # fmt: skip
    return code, sandbox.read_output("nginx-t")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The synthesized StaticSite's volumes and the sample site, in a fresh network namespace."""
    _require_tools()
    chart = cdk8s.Chart(cdk8s.App(), "t", namespace="ns", disable_resource_name_hashes=True)
    JournalService(chart, "Journal")
    objects: list[dict[str, Any]] = list(chart.to_json())
    stage = tmp_path_factory.mktemp("static-site-nginx")
    site = stage / "site"
    _write_tree(site, _site_files(), 0o444)
    _make_read_only(site)
    box = Sandbox(stage, objects, site)
    subprocess.run(["ip", "netns", "add", box.namespace], check=True, capture_output=True)
    try:
        subprocess.run(
            ["ip", "netns", "exec", box.namespace, "ip", "link", "set", "lo", "up"],
            check=True, capture_output=True,
        )  # fmt: skip
        yield box
    finally:
        subprocess.run(["ip", "netns", "delete", box.namespace], check=False, capture_output=True)


@pytest.fixture(scope="module")
def served(sandbox: Sandbox) -> Served:
    """Run nginx with the container's command, send the requests, stop nginx."""
    container = sandbox.container
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probe_paths: list[str] = []
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        action = container[probe]["httpGet"]
        assert ports[action["port"]] == ports["http"], f"{probe} checks another port"
        probe_paths.append(action["path"])
    requests = _requests(sorted(set(probe_paths)))
    with sandbox.output("nginx") as (out, err), contextlib.ExitStack() as stack:
        process = subprocess.Popen(
            sandbox.argv(sandbox.command),
            stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            env={"PATH": SEARCH_PATH}, start_new_session=True,
        )  # fmt: skip
        stack.callback(_stop, process)
        try:
            answers = json.loads(
                sandbox.client(ports["http"], process.pid, list(requests.values()))
            )
            master = _proc_status(process.pid)
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
            workers = [_proc_status(int(pid)) for pid in children.split()]
            tmp = sandbox.volumes["/tmp"]
            pid_file = (tmp / "nginx.pid").read_text()
            written = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*"))
        except (AssertionError, OSError) as error:
            output = sandbox.read_output("nginx")
            raise AssertionError(f"nginx did not serve ({error}):\n{output}") from None
    responses: dict[str, Response] = {}
    for key, answer in zip(requests, answers, strict=True):
        headers: dict[str, list[str]] = {}
        for name, value in answer["headers"]:
            headers.setdefault(name, []).append(value)
        responses[key] = Response(answer["status"], headers, base64.b64decode(answer["body"]))
    return Served(
        stage=sandbox.stage,
        site=sandbox.volumes[sandbox.document_root],
        master_status=master,
        pid_file=pid_file,
        written=written,
        worker_statuses=workers,
        responses=responses,
        probe_paths=probe_paths,
        stdout=(sandbox.stage / "nginx.stdout").read_text(),
        stderr=(sandbox.stage / "nginx.stderr").read_text(),
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop nginx (SIGTERM, then SIGKILL) and anything left in its process group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def test_nginx_t_accepts_the_synthesized_config(nginx_t: tuple[int, str]) -> None:
    code, output = nginx_t
    assert code == 0, output
    assert "syntax is ok" in output and "test is successful" in output
    assert "[warn]" not in output and "[emerg]" not in output, output


def test_master_and_workers_run_unprivileged(served: Served, sandbox: Sandbox) -> None:
    for status in (served.master_status, *served.worker_statuses):
        assert status["Uid"].split() == [str(sandbox.uid)] * 4 != ["0"] * 4
        assert status["Gid"].split() == [str(sandbox.gid)] * 4
        assert status["Groups"].split() == []
        assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
        assert status["NoNewPrivs"] == "1"
    assert served.worker_statuses, "nginx started no worker"


def test_serves_the_index(served: Served) -> None:
    for key in ("index", "index.html"):
        response = served.responses[key]
        assert response.status == 200
        assert response.body == INDEX
        assert response.header("Content-Type").startswith("text/html")


def test_missing_files_are_404(served: Served) -> None:
    for key in ("missing", "missing-fingerprinted"):
        assert served.responses[key].status == 404


def test_probe_paths_answer_ok(served: Served) -> None:
    assert served.probe_paths == ["/healthz"] * 3
    response = served.responses["probe /healthz"]
    assert (response.status, response.body) == (200, b"ok\n")
    assert response.header("Content-Type") == "text/plain"


@pytest.mark.parametrize(
    "key", ["index", "fingerprinted", "fingerprinted-gzip", "big", "missing", "probe /healthz"]
)
def test_security_headers_on_every_answer(served: Served, sandbox: Sandbox, key: str) -> None:
    declared = _declared_headers(sandbox.files["security-headers.conf"])
    assert set(declared) >= REQUIRED_HEADERS
    response = served.responses[key]
    for name, value in declared.items():
        assert response.header(name) == value


def test_only_fingerprinted_assets_are_immutable(served: Served) -> None:
    assert served.responses["fingerprinted"].status == 200
    assert served.responses["fingerprinted"].header("Cache-Control") == IMMUTABLE
    assert served.responses["fingerprinted"].header("Content-Type") == "text/css"
    for key in ("index", "big", "missing"):
        assert "cache-control" not in served.responses[key].headers


@pytest.mark.parametrize("name", [FINGERPRINTED, BIG_CSS])
def test_big_text_is_gzipped_on_request(served: Served, name: str) -> None:
    original = _site_files()[name]
    assert len(original) > 1024
    key = "fingerprinted" if name == FINGERPRINTED else "big"
    plain, compressed = served.responses[key], served.responses[f"{key}-gzip"]
    assert plain.body == original and "content-encoding" not in plain.headers
    assert compressed.header("Content-Encoding") == "gzip"
    assert compressed.header("Vary") == "Accept-Encoding"
    assert len(compressed.body) < len(original) and gzip.decompress(compressed.body) == original


def test_small_files_are_not_gzipped(served: Served) -> None:
    assert "content-encoding" not in served.responses["index-gzip"].headers


def test_folder_redirect_stays_behind_the_ingress(served: Served) -> None:
    response = served.responses["folder"]
    assert response.status == 301
    assert response.header("Location") == "/docs/"


def test_no_version_in_server_header(served: Served) -> None:
    assert served.responses["index"].header("Server") == "nginx"


def test_access_log_on_stdout_without_probes_and_no_warnings(served: Served) -> None:
    assert '"GET /index.html HTTP/1.1" 200' in served.stdout
    assert "/healthz" not in served.stdout
    assert served.stderr == "", "nginx logged warnings or errors"


def test_writes_only_to_tmp(served: Served) -> None:
    assert served.pid_file.strip() == served.master_status["Pid"]
    assert served.written == ["client_body", "fastcgi", "nginx.pid", "proxy", "scgi", "uwsgi"]
    site = {p.relative_to(served.site).as_posix() for p in served.site.rglob("*") if p.is_file()}
    assert site == set(_site_files())


def test_host_is_untouched(served: Served) -> None:
    assert str(served.stage) not in Path("/proc/self/mountinfo").read_text()
    assert not Path("/etc/nginx/journal").exists()
    assert not Path("/tmp/nginx.pid").exists()
