"""One atomic publish of folders of files into an output folder (``dist/``).

The layout of the output folder::

    .generations/<id>/<name>/<file>   each publish writes a complete new generation here
    .current -> .generations/<id>     the one switch: a symlink replaced by rename(2)
    <name> -> .current/<name>         a stable link per folder: <outdir>/<name>/<file> reads
                                      the current generation (kubectl apply -f dist/<env>/)
    .lock                             flock(2): publishes take turns

Whatever instant a publish is killed at, every ``<name>/`` reads either the previous
generation or the new one, all of them the same one: the new generation is complete before
``.current`` is switched, links of new folders point into ``.current`` (so they show nothing
until the switch), and links of folders no longer published go dangling at the switch and are
removed after it. The next publish removes what an interrupted one left. A folder of the old
layout (a real directory) is moved into a generation once, swapped with its link atomically
(``renameat2(RENAME_EXCHANGE)``).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

GENERATIONS = ".generations"
CURRENT = ".current"
LOCK = ".lock"
LOCK_TIMEOUT = 60.0
"""Seconds a publish waits for another one to finish before it gives up."""
PAUSE_VARIABLE = "JOURNAL_TOOLS_TEST_PAUSE"
"""Test hook: the name of a step after which the publish stops (and waits to be killed)."""

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_TEMPORARY = (".current-", ".link-", ".swap-")
"""Prefixes of what an interrupted publish (or the older swap-based one) leaves behind."""


class PublishError(Exception):
    """The output folder cannot be written (read-only, full, busy); the message says why."""


def publish(outdir: Path, folders: Mapping[str, Mapping[str, str]]) -> None:
    """Make ``outdir/<name>/<file>`` hold exactly ``folders``, all at once.

    Folders published before but absent from ``folders`` disappear in the same step; other
    entries of ``outdir`` (not links into ``.current``) are left alone.

    Raises:
        PublishError: the folder cannot be written, or another publish holds it too long.
    """
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        with _locked(outdir):
            _clean(outdir, keep=())
            generation = _write(outdir, folders)
            _pause("written")
            for name in folders:
                _link(outdir, name)
            _pause("linked")
            previous = _current(outdir)
            _switch(outdir, generation.name)
            _pause("switched")
            _clean(outdir, keep=(previous,) if previous else ())
    except OSError as error:
        where = error.filename or outdir
        raise PublishError(f"{where}: cannot write: {error.strerror or error}") from None


@contextmanager
def _locked(outdir: Path) -> Iterator[None]:
    """Hold ``outdir/.lock``; wait up to ``LOCK_TIMEOUT`` for another publish to end."""
    with open(outdir / LOCK, "a") as lock:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PublishError(
                        f"{outdir}: another synth is publishing here (it holds {outdir / LOCK})"
                        f" for more than {LOCK_TIMEOUT:.0f} s: try again when it ends"
                    ) from None
                time.sleep(0.05)
        yield


def _pause(step: str) -> None:
    if os.environ.get(PAUSE_VARIABLE) == step:
        print(f"paused after {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


def _current(outdir: Path) -> str | None:
    """The name of the current generation, if there is one."""
    try:
        return os.path.basename(os.readlink(outdir / CURRENT))
    except FileNotFoundError:
        return None


def _write(outdir: Path, folders: Mapping[str, Mapping[str, str]]) -> Path:
    """A new generation holding ``folders``; a failed one is removed (a full disk is freed)."""
    generation = outdir / GENERATIONS / f"{time.time_ns()}-{os.getpid()}"
    generation.mkdir(parents=True)
    try:
        for name, files in folders.items():
            for relative, text in files.items():
                path = generation / name / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                _pause("first file")
    except OSError:
        shutil.rmtree(generation, ignore_errors=True)
        raise
    return generation


def _link(outdir: Path, name: str) -> None:
    """Make ``outdir/name`` the link ``.current/name`` (a real folder is moved in first)."""
    path, target = outdir / name, f"{CURRENT}/{name}"
    if path.is_symlink() and os.readlink(path) == target:
        return
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise PublishError(f"{path}: in the way of the output: expected a folder or no entry")
    temporary = outdir / f".link-{name}-{os.getpid()}"
    os.symlink(target, temporary)
    if not path.exists():
        os.replace(temporary, path)
        return
    # A folder of the old layout: its copy joins the current generation, then the link and
    # the folder change places in one step, so the folder is never missing.
    current = _current(outdir)
    if current is None:
        current = _write(outdir, {}).name
        _switch(outdir, current)
    copy = outdir / GENERATIONS / current / name
    if not copy.exists():
        shutil.copytree(path, copy, symlinks=True)
    _exchange(temporary, path)
    shutil.rmtree(temporary)


def _switch(outdir: Path, generation: str) -> None:
    temporary = outdir / f".current-{os.getpid()}"
    if temporary.is_symlink():
        temporary.unlink()
    os.symlink(f"{GENERATIONS}/{generation}", temporary)
    os.replace(temporary, outdir / CURRENT)


def _clean(outdir: Path, keep: tuple[str, ...]) -> None:
    """Remove old generations (but ``keep`` and the current one), temporaries, dead links."""
    current = _current(outdir)
    generations = outdir / GENERATIONS
    if generations.is_dir():
        for entry in generations.iterdir():
            if entry.name != current and entry.name not in keep:
                shutil.rmtree(entry)
    for entry in outdir.iterdir():
        if entry.name.startswith(_TEMPORARY):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        elif (
            entry.is_symlink()
            and os.readlink(entry) == f"{CURRENT}/{entry.name}"
            and not entry.exists()
        ):
            entry.unlink()


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
