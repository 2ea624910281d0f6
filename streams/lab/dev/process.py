"""Child processes that never outlive the process that started them."""

from __future__ import annotations

import contextlib
import signal
import subprocess


def die_with_parent() -> None:
    """``preexec_fn``: on Linux, SIGKILL the child when its parent dies, even by kill -9.

    The broker and stage processes run in their own sessions (so a terminal's Ctrl-C reaches
    only the parent, which stops them in order); this makes sure a crashed parent leaves no
    orphan behind. Elsewhere it does nothing.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``; a no-op for a finished one."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
