"""Cutting a video at its keyframes, and joining separately encoded pieces by stream copy.

:func:`video_index` reads the presentation time of every video packet and which are keyframes
(demuxing only, no decoding), so a piece of the video can be decoded on its own from the
keyframe before it (:func:`likeness.media.read_frames` with ``first``/``stop``/``index``) and its
frames keep the index and time they have in the whole file. :func:`join_video` puts encoded
pieces back together without re-encoding them, and copies the source's audio once.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from likeness.media.encode import AUDIO_LEAD, AudioCopy
from likeness.media.errors import MediaError
from likeness.media.frames import AV_ERRORS, open_video


@dataclass(frozen=True)
class VideoIndex:
    """Presentation timestamps of the frames in order (the first video stream's time base) and
    the frames that are keyframes (where decoding can start)."""

    pts: tuple[int, ...]
    keyframes: tuple[int, ...]
    time_base: Fraction
    _positions: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_positions", {p: i for i, p in enumerate(self.pts)})

    @property
    def frames(self) -> int:
        return len(self.pts)

    def position(self, pts: int | None) -> int | None:
        """The frame index of a decoded frame's pts (None: not in the index)."""
        return None if pts is None else self._positions.get(pts)

    def keyframe_before(self, frame: int) -> int:
        """The last keyframe at or before ``frame`` (0 when none: decode from the start)."""
        at = bisect.bisect_right(self.keyframes, frame) - 1
        return self.keyframes[at] if at >= 0 else 0


def video_index(path: str | Path) -> VideoIndex | None:
    """The index of ``path``'s first video stream; None when it cannot be cut (packets without
    timestamps, or two frames at one time), so the caller decodes it whole."""
    container, stream = open_video(path)
    try:
        time_base = Fraction(stream.time_base)
        packets = [(p.pts, bool(p.is_keyframe)) for p in container.demux(stream) if p.size > 0]
    except AV_ERRORS as exc:
        raise MediaError(f"{path}: cannot read video ({exc})") from None
    finally:
        container.close()
    if not packets or any(pts is None for pts, _ in packets) or len({pts for pts, _ in packets}) != len(packets):
        return None
    order = sorted(packets)
    keyframes = tuple(i for i, (_, key) in enumerate(order) if key)
    return VideoIndex(tuple(pts for pts, _ in order), keyframes, time_base)


def join_video(pieces: Iterable[bytes], output: str | Path, *, audio_from: str | Path | None = None) -> int:
    """Write ``output`` from encoded video ``pieces`` (in-memory files from
    :class:`~likeness.media.VideoWriter`, in order, with the frame times of the whole video) by
    stream copy, with ``audio_from``'s audio copied once; returns the number of frames.

    The pieces are read one at a time (an iterator keeps only one in memory). They must share
    one encoding (codec, size, settings): each one's header is checked against the first's.
    """
    output = Path(output)
    out: av.container.OutputContainer | None = None
    audio: AudioCopy | None = None
    video = template = None
    frames, last_dts = 0, None
    try:
        for number, piece in enumerate(pieces):
            with av.open(io.BytesIO(piece), "r") as container:
                stream = container.streams.video[0]
                if out is None:
                    out = av.open(str(output), "w")
                    template, video = stream.codec_context.extradata, out.add_stream_from_template(stream)
                    audio = AudioCopy.open(Path(audio_from)) if audio_from is not None else None
                    if audio is not None:
                        audio.add_to(out, output)
                elif stream.codec_context.extradata != template:
                    raise MediaError(f"{output}: piece {number} was encoded with other settings than the first; it cannot be joined by copy")
                for packet in container.demux(stream):
                    if packet.size == 0:
                        continue
                    if last_dts is not None and packet.dts is not None and packet.dts <= last_dts:
                        raise MediaError(f"{output}: piece {number} overlaps the one before it in time")
                    last_dts = packet.dts
                    seconds = float(packet.pts * packet.time_base) if packet.pts is not None else None
                    packet.stream = video
                    out.mux(packet)
                    frames += 1
                    if audio is not None and seconds is not None:
                        audio.copy(until=seconds + AUDIO_LEAD)
        if out is None:
            raise MediaError(f"{output}: nothing to join")
        if audio is not None:
            audio.copy(until=None)
        out.close()
        out = None
    except AV_ERRORS as exc:
        raise MediaError(f"{output}: cannot join the encoded pieces ({exc})") from None
    finally:
        if out is not None:
            out.close()
        if audio is not None:
            audio.close()
    return frames
