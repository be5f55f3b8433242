"""Ctrl-C and SIGTERM in the project's commands: one line, exit 130 or 143, never a traceback.

``make synth`` starts Python with SIGINT and SIGTERM blocked (``env --block-signal``), so a
signal that arrives while the interpreter starts (``site``, the imports) waits, pending, until
``app.py`` has installed its handlers here and unblocks them. Until the work starts, and again
after it, a signal prints the line and ends the process at once (``os._exit``: nothing is
written yet, or everything is). During the work it raises ``Interrupted`` instead, so that
the publish removes what it had begun; the command then reports and ends with ``leave``, which
skips Python's teardown (jsii's exit handler talks to a Node that the same Ctrl-C has stopped).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
BLOCKING_PREFIX = ("env", "--block-signal=INT", "--block-signal=TERM")
"""What ``make synth`` runs Python behind (GNU coreutils ``env``, 8.31 or later)."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived during the work; ``code`` is the exit status (128 + signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.code = 128 + signum


def exit_on_signal(message: str) -> None:
    """From now on, SIGINT or SIGTERM prints ``message`` and exits (130, 143) at once.

    A signal the parent ignores stays ignored (``nohup``, a background job). Unblocks both
    signals (a pending one is handled now).
    """

    def handler(signum: int, _frame: FrameType | None) -> None:
        print(message, file=sys.stderr, flush=True)
        os._exit(128 + signum)

    for signum in SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


@contextmanager
def raising() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise ``Interrupted`` (ignored ones stay ignored)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum, before in previous.items():
        if before is not signal.SIG_IGN:
            signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


def leave(code: int) -> None:
    """End the process with ``code`` now: flush the output, skip Python's teardown."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
