"""``make assembly``: pack ``journal_k8s/_jsii/assembly/`` into the jsii tarball the library loads.

The tarball is committed (the library never builds files at import); a test checks that it
is exactly what this command packs from the sources beside it.

The assembly is one JavaScript class of static methods, so its ``.jsii`` type spec is written
by hand rather than by the jsii compiler: the kernel reads from it only the class, its
methods and their parameter types (to convert arguments), and the assembly's dependencies,
which the tarball's ``.jsii`` takes from ``package.json`` (the one place that names cdk8s-plus
and the versions). When ``lib/index.js`` gains or changes a method, ``.jsii`` and
``journal_k8s/_bulk.py`` (the Python binding) change with it (README, "The jsii assembly");
the tests call every method through the binding.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

JSII_DIR = Path(__file__).resolve().parents[1] / "journal_k8s" / "_jsii"
SOURCES = JSII_DIR / "assembly"
FILES = ("package.json", ".jsii", "lib/index.js")
"""What the tarball holds: the npm manifest, the jsii type spec and the code."""


class AssemblyError(Exception):
    """The sources are missing, or their names and versions disagree."""


def name_and_version(sources: Path = SOURCES) -> tuple[str, str]:
    """The assembly's name and version, the same in ``package.json`` and ``.jsii``."""
    try:
        package, spec = (json.loads((sources / f).read_text()) for f in FILES[:2])
    except (OSError, ValueError) as error:
        raise AssemblyError(f"{sources}: cannot read the assembly sources: {error}") from None
    if (package["name"], package["version"]) != (spec["name"], spec["version"]):
        raise AssemblyError(
            f"{sources}: package.json names {package['name']}@{package['version']}, "
            f".jsii names {spec['name']}@{spec['version']}: they must agree"
        )
    return package["name"], package["version"]


def tarball(sources: Path = SOURCES) -> Path:
    """Where the tarball of ``sources`` goes: ``<name>@<version>.jsii.tgz`` beside them."""
    name, version = name_and_version(sources)
    return sources.parent / f"{name}@{version}.jsii.tgz"


def pack(sources: Path = SOURCES) -> bytes:
    """The npm-style tarball of ``FILES`` (under ``package/``), byte-for-byte reproducible."""
    name_and_version(sources)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for relative in FILES:
            try:
                data = (sources / relative).read_bytes()
            except OSError as error:
                raise AssemblyError(f"{sources}: missing {relative}: {error}") from None
            if relative == ".jsii":
                data = _with_dependencies(sources, data)
            info = tarfile.TarInfo(f"package/{relative}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def _with_dependencies(sources: Path, spec: bytes) -> bytes:
    """``.jsii`` with ``dependencies``: the ``peerDependencies`` of ``package.json``."""
    package = json.loads((sources / "package.json").read_text())
    merged = {**json.loads(spec), "dependencies": package["peerDependencies"]}
    return (json.dumps(merged, indent=2) + "\n").encode()


def main() -> int:
    """Write the tarball and name it; exit 1 with the cause when the sources are wrong."""
    try:
        target, data = tarball(), pack()
    except AssemblyError as error:
        print(f"make assembly: {error}")
        return 1
    target.write_bytes(data)
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
