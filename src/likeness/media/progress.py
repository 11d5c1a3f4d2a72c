"""A progress bar for long frame loops, on stderr so stdout stays clean for ``--json``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")


def track_progress(
    iterable: Iterable[T], total: int | None, description: str, *, console: Console | None = None
) -> Iterator[T]:
    """Yield from ``iterable`` while a Rich bar counts up to ``total`` (unknown when None).

    Silent when stderr is not a terminal (CI logs, pipes), so nothing garbles captured output.
    """
    console = console or Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal, transient=False) as bar:
        task = bar.add_task(description, total=total)
        for item in iterable:
            yield item
            bar.advance(task)
