"""How a render shares the cores: its own stage threads and OpenCV's pool, but no BLAS threads.

The pipeline runs decode, analysis, engine, composite and encoder on threads of their own.
OpenBLAS (numpy's, and the copy OpenCV bundles) starts a thread per core for every small
matrix product and keeps them spinning between calls: on two cores that spinning took a third
of the render's CPU (pipeline CPU per 720p frame 118 ms -> 87 ms without it; the wall time of
the engine alone did not change), time the encoder and the other stages then lacked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from threadpoolctl import threadpool_limits

F = TypeVar("F", bound=Callable)


def without_blas_threads(function: F) -> F:
    """``function`` run with every loaded BLAS limited to one thread, restored afterwards."""

    @functools.wraps(function)
    def limited(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return limited  # type: ignore[return-value]
