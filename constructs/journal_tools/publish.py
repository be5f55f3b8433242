"""One atomic publish of folders of files into an output folder (``dist/``).

The output folder holds plain directories of plain files, ``<outdir>/<name>/<file>``, so that
``kubectl apply -f dist/prod``, ``-R``, kustomize, ``cp -r``, ``tar`` and ``git add`` read
them as they are. A publish builds the whole new output folder beside it, in
``<parent>/.<outdir>.publish-<pid>``: the new folders, and a hard-link copy of every other
entry (the outputs of other commands, such as ``helm/``, ``diagrams/``, ``bench/``, or a user's
notes). Then the two directories change places in one ``renameat2(RENAME_EXCHANGE)`` (Linux 3.15
or later), and the old tree is removed. Whatever instant a publish is killed at, every
``<name>/`` reads the previous output or the new one, all of them the same one; the next
publish removes what an interrupted one left beside the folder.

``<outdir>/.published`` lists the folders of the last publish of the environments: those
absent from the next one disappear with it. The other commands (``make diagram``, ``make
docs``) publish their own folder the same way, with ``record=False``: only that folder is
replaced, and the environments' folders and their record are kept. Publishes take turns on an
``flock(2)`` of the output folder itself (checked again after the exchange, which replaces
it); a folder below it that is itself published into (``dist/helm``, whose ``.published``
says so) is locked too while it is copied, so an export into it is never lost. A folder of
the layout before this one (``.generations/``, ``.current``, links into it) is converted on
the way: its links become the folders they showed.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

RECORD = ".published"
LOCK_TIMEOUT = 60.0
"""Seconds a publish waits for another one to finish before it gives up."""
PAUSE_VARIABLE = "JOURNAL_TOOLS_TEST_PAUSE"
"""Test hook: the name of a step after which the publish stops (and waits to be killed)."""

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_STAGING = ".publish-"
"""Infix of the folder a publish builds beside the output folder: ``.dist.publish-<pid>``."""
_OLD_LAYOUT = (".generations", ".current", ".lock")
_OLD_TEMPORARY = (".current-", ".link-", ".swap-")
"""Entries of the layout before this one (a link per folder into ``.current``)."""


class PublishError(Exception):
    """The output folder cannot be written (read-only, full, busy); the message says why."""


def publish(
    outdir: Path, folders: Mapping[str, Mapping[str, str | bytes]], *, record: bool = True
) -> None:
    """Make ``outdir/<name>/<file>`` hold exactly ``folders``, all at once.

    Folders published before but absent from ``folders`` disappear in the same step; other
    entries of ``outdir`` are kept (hard-linked into the new tree).

    Args:
        record: ``folders`` are the whole set that ``.published`` lists; ``False``: they
            replace their namesakes only, and the record and the folders it lists are kept.

    Raises:
        PublishError: the folder cannot be written, or another publish holds it too long.
    """
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        outdir = Path(os.path.realpath(outdir))
        with _locked(outdir):
            _clean(outdir)
            staging = outdir.parent / f".{outdir.name}{_STAGING}{os.getpid()}"
            try:
                with ExitStack() as nested:
                    _build(outdir, staging, folders, nested, record)
                    _pause("written")
                    _exchange(staging, outdir)
                    _pause("exchanged")
            finally:
                shutil.rmtree(staging, ignore_errors=True)  # the old tree, or a failed new one
    except OSError as error:
        where = error.filename or outdir
        raise PublishError(f"{where}: cannot write: {error.strerror or error}") from None


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an ``flock`` of ``folder`` (the directory that ``folder`` names when it is taken).

    Waits up to ``LOCK_TIMEOUT`` for another publish to end.
    """
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            if time.monotonic() > deadline:
                raise PublishError(
                    f"{folder}: another synth is publishing here for more than "
                    f"{LOCK_TIMEOUT:.0f} s: try again when it ends"
                ) from None
            time.sleep(0.05)
            continue
        if os.stat(folder).st_ino == os.fstat(descriptor).st_ino:
            break
        os.close(descriptor)  # exchanged by the publish that held it: lock the new one
    try:
        yield
    finally:
        os.close(descriptor)


def _pause(step: str) -> None:
    if os.environ.get(PAUSE_VARIABLE) == step:
        print(f"paused after {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


def published(outdir: Path) -> list[str]:
    """The folders of the last publish into ``outdir`` (empty before the first)."""
    try:
        return (outdir / RECORD).read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return []


def _build(
    outdir: Path,
    staging: Path,
    folders: Mapping[str, Mapping[str, str | bytes]],
    nested: ExitStack,
    record: bool,
) -> None:
    """Fill ``staging`` with the new output folder: ``folders``, then what the old one keeps."""
    previous = set(published(outdir)) if record else set()
    for name in folders:
        path = outdir / name
        old_link = path.is_symlink() and os.readlink(path) == f".current/{name}"
        if not old_link and (path.is_symlink() or (path.exists() and not path.is_dir())):
            raise PublishError(f"{path}: in the way of the output: expected a folder or no entry")
    staging.mkdir()
    for name, files in folders.items():
        for relative, content in files.items():
            path = staging / name / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
            _pause("first file")
    leave = previous | set(folders) | ({RECORD} if record else set())
    _carry(outdir, staging, nested, leave=leave, root=True)
    if record:
        (staging / RECORD).write_text("".join(f"{name}\n" for name in folders), encoding="utf-8")
    shutil.copymode(outdir, staging)


def _carry(
    source: Path, target: Path, nested: ExitStack, *, leave: set[str], root: bool = False
) -> None:
    """Hard-link the tree ``source`` into the folder ``target``, but the entries ``leave``.

    A folder of the old layout loses its ``.generations/`` and ``.current``, and each of its
    links into ``.current`` becomes a copy of the folder it showed (at the top: is left, as
    a folder published before).
    """
    old_layout = (source / ".current").is_symlink()
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        name, path = entry.name, Path(entry.path)
        if name in leave or (root and _STAGING in name and name.startswith(".")):
            continue
        if old_layout and (name in _OLD_LAYOUT or name.startswith(_OLD_TEMPORARY)):
            continue
        if entry.is_symlink():
            link = os.readlink(path)
            if old_layout and link == f".current/{name}":
                if not root:
                    _copy_folder(path.resolve(), target / name, nested)
            else:
                os.symlink(link, target / name)
        elif entry.is_dir():
            _copy_folder(path, target / name, nested)
        else:
            try:
                os.link(path, target / name)
            except OSError:
                shutil.copy2(path, target / name)


def _copy_folder(source: Path, target: Path, nested: ExitStack) -> None:
    """Copy the folder ``source`` as ``target`` (locked while it is itself published into)."""
    if (source / RECORD).is_file():
        nested.enter_context(_locked(source))
    target.mkdir()
    _carry(source, target, nested, leave=set())
    shutil.copystat(source, target)


def _clean(outdir: Path) -> None:
    """Remove what interrupted publishes left beside ``outdir``."""
    prefix = f".{outdir.name}{_STAGING}"
    for entry in outdir.parent.iterdir():
        if entry.name.startswith(prefix) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def _exchange(first: Path, second: Path) -> None:
    """Swap two paths atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if (
        libc.renameat2(
            _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
        )
        != 0
    ):
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(second))
