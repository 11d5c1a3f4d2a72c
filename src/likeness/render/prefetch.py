"""Running a stage of the pipeline on its own thread, a few items ahead of the next stage.

Decoding (PyAV), the engine (OpenCV) and encoding (x264) release the GIL, so on a 2-core
machine a stage per thread keeps both cores busy instead of taking turns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], depth: int = 2, *, name: str = "likeness-prefetch") -> Iterator[T]:
    """The items of ``items`` in order, produced on a thread up to ``depth`` ahead.

    An exception in the producer is raised here, at the item where it happened. Stopping early
    (closing this generator) stops the producer and closes ``items`` on its own thread, so a
    decoder it holds is released.
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
