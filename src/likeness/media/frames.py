"""Decoding video into upright RGB frames with their real presentation times.

Times come from each frame's pts, so variable-frame-rate clips keep their timing. A packet the
decoder rejects, or a frame it flags as corrupt, is skipped and counted instead of ending the run.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import av
import av.container
import av.video.stream

from likeness.media.errors import MediaError
from likeness.media.image import check_file
from likeness.media.rotation import rotate_upright
from likeness.media.types import Frame

if TYPE_CHECKING:
    from likeness.media.segments import VideoIndex

AV_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError)


def open_video(
    path: str | Path, *, max_pixels: int = 100_000_000
) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open a container and its first video stream, or raise a MediaError naming the file.

    Frame size is checked from the header before any decoding, as for images.
    """
    path = check_file(path)
    try:
        container = av.open(str(path), "r")
    except av.error.InvalidDataError:
        raise MediaError(f"{path}: not a video file (unknown or damaged container)") from None
    except AV_ERRORS as exc:
        raise MediaError(f"{path}: cannot open video ({exc})") from None
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
        container.close()
        raise MediaError(f"{path}: no video stream (it holds {kinds})")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > max_pixels:
        container.close()
        raise MediaError(
            f"{path}: video frames of {width}x{height} pixels exceed the limit of {max_pixels}"
        )
    return container, stream


def start_seconds(container: av.container.InputContainer) -> float:
    """The container's start time in seconds (MPEG files often start at 0.5 s or 1 s, not 0)."""
    return container.start_time / 1_000_000 if container.start_time is not None else 0.0


class FrameReader:
    """Iterator of :class:`Frame` over one video; ``skipped`` counts corrupt frames it dropped.

    The file is opened at construction (so a bad path fails at once) and closed when iteration
    ends, when :meth:`close` is called, or on leaving a ``with`` block. With ``index`` (the
    file's :class:`~likeness.media.segments.VideoIndex`), only frames ``first`` to ``stop - 1``
    are yielded, with the indices and times they have in the whole file: the reader seeks to the
    keyframe before ``first`` and decodes from there.
    """

    def __init__(self, path: str | Path, *, max_pixels: int = 100_000_000, first: int = 0, stop: int | None = None,
                 index: "VideoIndex | None" = None) -> None:
        self.path = Path(path)
        self.skipped = 0
        if (first or stop is not None) and index is None:
            raise ValueError("reading a range of frames needs the file's VideoIndex")
        self._range = (first, index.frames if stop is None else min(stop, index.frames)) if index is not None else None
        self._index = index
        self._container, self._stream = open_video(self.path, max_pixels=max_pixels)
        self._frames = self._decode() if index is None else self._decode_range()

    def __iter__(self) -> FrameReader:
        return self

    def __next__(self) -> Frame:
        return next(self._frames)

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._frames.close()
        self._container.close()

    def _decode(self) -> Iterator[Frame]:
        container, stream = self._container, self._stream
        stream.thread_type = "AUTO"
        origin = start_seconds(container)
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        index = 0
        try:
            for packet in self._packets():
                for frame in self._decoded(packet):
                    if frame.is_corrupt:
                        self.skipped += 1
                        continue
                    if frame.time is not None:
                        time = frame.time - origin
                    else:  # no pts: raw streams; fall back to constant rate
                        time = index / rate
                    image = rotate_upright(frame.to_ndarray(format="rgb24"), frame.rotation)
                    yield Frame(index=index, time=time, image=image)
                    index += 1
        finally:
            container.close()

    def _decode_range(self) -> Iterator[Frame]:
        """Frames ``first`` .. ``stop - 1`` by their place in the index; a seek that lands past
        ``first`` (an inexact demuxer) is tried again from the keyframe before."""
        first, stop = self._range  # type: ignore[misc]
        index = self._index
        assert index is not None
        container, stream = self._container, self._stream
        stream.thread_type = "AUTO"
        origin = start_seconds(container)
        keyframe, moved = index.keyframe_before(first), False
        try:
            while True:
                if keyframe > 0 or moved:
                    container.seek(index.pts[keyframe], stream=stream, backward=True, any_frame=False)
                    moved = True
                decoded = ((index.position(f.pts), f) for packet in self._packets() for f in self._decoded(packet) if not f.is_corrupt)
                landed = next(((at, f) for at, f in decoded if at is not None), None)
                if landed is not None and landed[0] > first and keyframe > 0:
                    keyframe = index.keyframe_before(keyframe - 1)
                    stream.codec_context.flush_buffers()
                    continue
                expected = first
                for at, frame in itertools.chain([landed] if landed else [], decoded):
                    if at is not None and at < expected:
                        continue
                    if at != expected:
                        break
                    yield Frame(index=at, time=frame.time - origin, image=rotate_upright(frame.to_ndarray(format="rgb24"), frame.rotation))
                    expected += 1
                    if expected >= stop:
                        return
                raise MediaError(f"{self.path}: frame {expected} could not be decoded (the file is damaged there)")
        finally:
            container.close()

    def _packets(self) -> Iterator[av.Packet]:
        """Demuxed packets plus a final flush packet; a broken container ends the stream cleanly."""
        try:
            for packet in self._container.demux(self._stream):
                yield packet  # the last one is the decoder flush (no data)
        except AV_ERRORS as exc:
            if isinstance(exc, av.error.FileNotFoundError):
                raise MediaError(f"{self.path}: file vanished while reading") from None
            # A damaged tail: keep what decoded, count the loss, flush the decoder.
            self.skipped += 1
            yield None  # type: ignore[misc]

    def _decoded(self, packet: av.Packet | None) -> list[av.VideoFrame]:
        try:
            return self._stream.decode(packet)
        except AV_ERRORS:
            self.skipped += 1
            return []


def read_frames(path: str | Path, *, max_pixels: int = 100_000_000, first: int = 0, stop: int | None = None,
                index: "VideoIndex | None" = None) -> FrameReader:
    """Frames of the first video stream of ``path``, upright, with times in seconds from the start.

    Returns a :class:`FrameReader` (an iterator of :class:`Frame`) whose ``skipped`` attribute
    tells how many corrupt frames were dropped. ``first``/``stop`` with ``index``: only that
    range of frames, decoded from the keyframe before it.
    """
    return FrameReader(path, max_pixels=max_pixels, first=first, stop=stop, index=index)
