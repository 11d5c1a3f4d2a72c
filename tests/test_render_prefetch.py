"""A pipeline stage on its own thread: order kept, errors raised where they happened, early stop
releases the producer (and the decoder it holds)."""

from __future__ import annotations

import threading

import pytest

from likeness.render.prefetch import prefetched


def test_items_arrive_in_order_from_another_thread():
    threads = set()

    def produce():
        for i in range(50):
            threads.add(threading.current_thread().name)
            yield i

    assert list(prefetched(produce(), depth=3, name="likeness-test")) == list(range(50))
    assert threads == {"likeness-test"}


def test_a_producer_error_is_raised_at_its_item():
    def produce():
        yield 1
        yield 2
        raise ValueError("frame 3 is corrupt")

    got = []
    with pytest.raises(ValueError, match="frame 3"):
        for item in prefetched(produce()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_closes_the_source_on_its_thread():
    closed = threading.Event()

    def produce():
        try:
            for i in range(10_000):
                yield i
        finally:
            closed.set()

    stream = prefetched(produce(), depth=2)
    assert next(stream) == 0
    stream.close()
    assert closed.is_set()
    assert not any(t.name == "likeness-prefetch" for t in threading.enumerate())
