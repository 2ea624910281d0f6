"""Child processes that never outlive the process that started them."""

from __future__ import annotations

import contextlib
import signal


def die_with_parent() -> None:
    """``preexec_fn``: on Linux, SIGKILL the child when its parent dies, even by kill -9.

    The broker and stage processes run in their own sessions (so a terminal's Ctrl-C reaches
    only the parent, which stops them in order); this makes sure a crashed parent leaves no
    orphan behind. Elsewhere it does nothing.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
