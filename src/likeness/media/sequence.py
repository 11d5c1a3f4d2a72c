"""PNG image sequences (frame_000001.png ...), the interchange format of film pipelines."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from likeness.media.errors import MediaError
from likeness.media.image import write_image
from likeness.media.types import Frame, Image

PATTERN = "frame_{:06d}.png"


class SequenceWriter:
    """Write numbered PNGs into ``folder`` (created if needed), counting from ``start`` (1 by default).

    Lossless, so a compositor downstream gets exactly the pixels likeness made. Refuses to
    overwrite an existing frame file, so two renders never interleave in one folder.
    """

    def __init__(self, folder: str | Path, *, start: int = 1, pattern: str = PATTERN) -> None:
        self.folder = Path(folder)
        self.pattern = pattern
        self.next_number = int(start)
        self.paths: list[Path] = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MediaError(f"{self.folder}: cannot create sequence folder ({exc})") from None

    def write(self, image: Image) -> Path:
        """Write the next frame and return its path."""
        path = self.folder / self.pattern.format(self.next_number)
        if path.exists():
            raise MediaError(f"{path}: already exists; write the sequence into an empty folder")
        write_image(path, image)
        self.next_number += 1
        self.paths.append(path)
        return path

    def close(self) -> None:
        """Nothing to flush (each frame is complete on write); here for symmetry with VideoWriter."""

    def __enter__(self) -> SequenceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_sequence(folder: str | Path, frames: Iterable[Frame | Image], *, start: int = 1) -> list[Path]:
    """Write every frame (a :class:`Frame` or an RGB image) as a numbered PNG; return the paths."""
    with SequenceWriter(folder, start=start) as writer:
        for frame in frames:
            writer.write(frame.image if isinstance(frame, Frame) else frame)
    return writer.paths
