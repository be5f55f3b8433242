"""``make assembly``: pack ``journal_k8s/_jsii/assembly/`` into the jsii tarball the library loads.

The tarball is committed (the library never builds files at import); a test checks that it
is exactly what this command packs from the sources beside it.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

JSII_DIR = Path(__file__).resolve().parents[1] / "journal_k8s" / "_jsii"
SOURCES = JSII_DIR / "assembly"
TARBALL = JSII_DIR / "journal-k8s-bulk@0.1.0.jsii.tgz"


def pack(sources: Path = SOURCES) -> bytes:
    """The npm-style tarball of ``sources`` (under ``package/``), byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(p for p in sources.rglob("*") if p.is_file()):
            data = path.read_bytes()
            info = tarfile.TarInfo(f"package/{path.relative_to(sources).as_posix()}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def main() -> None:
    """Write the tarball and name it."""
    TARBALL.write_bytes(pack())
    print(TARBALL.relative_to(Path.cwd()) if TARBALL.is_relative_to(Path.cwd()) else TARBALL)


if __name__ == "__main__":
    main()
