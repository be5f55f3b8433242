"""``make assembly``: compile the library's jsii assembly and generate its Python binding.

``journal_k8s/_jsii/assembly/src/index.ts`` is the assembly's one source. This command installs
the jsii compiler and jsii-pacmak at the exact versions ``package.json`` pins (``npm ci`` of
its ``package-lock.json`` into ``<venv>/jsii-assembly``, run by the venv's Node 24), compiles
the source with jsii, which writes the ``.jsii`` type spec, and generates the binding with
jsii-pacmak's Python target into ``journal_k8s/_jsii/``: ``__init__.py`` (the classes),
``py.typed``, ``_jsii/__init__.py`` and the tarball it loads (``npm pack`` of the compiled
assembly). They are committed (the library never builds files at import); a test checks that
they are exactly what this command writes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .node import NodeToolError, bundled_node, node_environment, npm_ci, npm_shims, run

JSII_DIR = Path(__file__).resolve().parents[1] / "journal_k8s" / "_jsii"
"""The binding's package, ``journal_k8s._jsii``; its sources are in ``assembly/``."""

SOURCES = JSII_DIR / "assembly"
GENERATED = ("__init__.py", "py.typed", "_jsii")
"""What jsii-pacmak writes into the binding's package (the rest of it is left alone)."""

SILENCED = ("metadata/missing-dev-dependency",)
"""jsii warnings silenced (any other fails the build): jsii asks for devDependencies at the
floors of the peerDependencies; they are at versions the registry has, near the project's pins."""


def build_dir() -> Path:
    """Where ``make assembly`` installs the locked jsii toolchain: ``<venv>/jsii-assembly``."""
    return Path(sys.prefix) / "jsii-assembly"


def install(prefix: Path) -> bool:
    """Install the assembly's locked devDependencies under the npm ``prefix`` unless they are
    there already (see ``node.npm_ci``). Returns whether it installed.

    Raises:
        NodeToolError: npm failed (the registry is out of reach, for one).
    """
    pins = json.loads((SOURCES / "package.json").read_text())["devDependencies"]
    return npm_ci(SOURCES, prefix, what=f"jsii {pins['jsii']}, jsii-pacmak {pins['jsii-pacmak']}")


def generate(target: Path, *, prefix: Path, sources: Path = SOURCES) -> Path:
    """Compile ``sources`` with jsii and write jsii-pacmak's Python binding into ``target``
    (replacing the files of ``GENERATED``), with the toolchain that ``install`` put in ``prefix``.

    Raises:
        NodeToolError: jsii (a type error, a warning) or jsii-pacmak failed; their output is in
            the message.
    """
    package = json.loads((sources / "package.json").read_text())
    module = package["jsii"]["targets"]["python"]["module"]
    tools = prefix / "node_modules"
    node = str(bundled_node())
    with tempfile.TemporaryDirectory(prefix="jsii-assembly-") as tmp:
        work = Path(tmp) / "assembly"
        shutil.copytree(sources, work)
        (work / "node_modules").symlink_to(tools)
        env = node_environment(npm_shims(Path(tmp) / "bin"))
        silenced = [f"--silence-warnings={code}" for code in SILENCED]
        compile_ = [node, str(tools / "jsii" / "bin" / "jsii"), "--fail-on-warnings", *silenced]
        run(compile_, cwd=work, env=env, what=f"jsii {package['devDependencies']['jsii']}")
        out = Path(tmp) / "out"
        pacmak = [node, str(tools / "jsii-pacmak" / "bin" / "jsii-pacmak"), "--code-only"]
        pacmak += ["--targets", "python", "--outdir", str(out)]
        run(pacmak, cwd=work, env=env, what="jsii-pacmak --targets python")
        generated = out.joinpath("python", "src", *module.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for name in GENERATED:
            old = target / name
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
            shutil.move(generated / name, old)
    return target


def main() -> int:
    """Install the toolchain if needed, then regenerate; exit 1 with the cause on failure."""
    try:
        install(build_dir())
        generate(JSII_DIR, prefix=build_dir())
    except NodeToolError as error:
        print(f"make assembly: {error}", file=sys.stderr)
        return 1
    print(f"{os.path.relpath(JSII_DIR)}: {', '.join(GENERATED)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
