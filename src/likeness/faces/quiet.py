"""Silence the native log lines mediapipe prints while its graphs start.

mediapipe's C++ side (TFLite, absl, glog) writes straight to file descriptor 2 when a graph is
built and on its first ``process()`` calls ("Created TensorFlow Lite XNNPACK delegate",
"All log messages before absl::InitializeLog()", "W0000 ... inference_feedback_manager.cc",
"W0000 ... landmark_projection_calculator.cc"); ``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL``
do not reach them. The CLI promises one clear line per problem, so those calls run with fd 2
pointed at ``/dev/null`` and restored in a ``finally``; Python exceptions pass through and are
printed after the restore. Nothing else is silenced. ``LIKENESS_DEBUG=1`` keeps the noise.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

STDERR_FD = 2


def debugging() -> bool:
    """True when ``LIKENESS_DEBUG`` asks to see native log lines (read at each call)."""
    return os.environ.get("LIKENESS_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def is_devnull(fd: int) -> bool:
    """True when ``fd`` is the null device."""
    try:
        st, null = os.fstat(fd), os.stat(os.devnull)
    except OSError:
        return False
    return (st.st_dev, st.st_ino, st.st_rdev) == (null.st_dev, null.st_ino, null.st_rdev)


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point fd 2 at ``/dev/null`` for the block, then put back what was there.

    No lock and no shared state: each use saves its own duplicate of fd 2. A use that finds
    fd 2 already silenced (nested, or another thread's block still open) does not restore it on
    exit: the use that saved the real stderr does, so interleaved blocks never leave stderr
    pointing at ``/dev/null``.
    """
    if debugging():
        yield
        return
    try:
        sys.stderr.flush()  # Python text written before the block must not be lost
    except (AttributeError, OSError, ValueError):
        pass
    try:
        saved = os.dup(STDERR_FD)
    except OSError:  # no fd 2 at all: nothing to silence
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, STDERR_FD)
        finally:
            os.close(null)
        yield
    finally:
        try:
            if not is_devnull(saved):
                os.dup2(saved, STDERR_FD)
        finally:
            os.close(saved)


class QuietWarmup:
    """A mediapipe solution whose creation and first ``process()`` calls are silenced.

    ``settled(result)`` says when the graph has printed all it prints at start-up (a detector:
    after its first call; the face mesh: after the first call that returns landmarks, which is
    when its landmark projection starts); later calls run as they are.
    """

    def __init__(self, create: Callable[[], Any], settled: Callable[[Any], bool] = lambda result: True) -> None:
        with native_stderr_silenced():
            self.model = create()
        self.settled = settled
        self.warm = False

    def process(self, image: Any) -> Any:
        if self.warm:
            return self.model.process(image)
        with native_stderr_silenced():
            result = self.model.process(image)
        self.warm = bool(self.settled(result))
        return result

    def close(self) -> None:
        self.model.close()
