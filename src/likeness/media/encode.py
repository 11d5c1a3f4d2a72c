"""Encoding frames to video, with the source's audio carried across packet for packet.

The audio is never decoded: its packets are copied (stream copy) and interleaved with the video
as it is written, so speech keeps its quality and sync. Times on both sides are seconds from the
start of the source file, the same clock :func:`likeness.media.read_frames` reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import av.container
import numpy as np

from likeness.media.errors import MediaError
from likeness.media.frames import AV_ERRORS, start_seconds
from likeness.media.image import check_file
from likeness.media.types import Image

TICKS = 90_000  # video time base 1/90000 s: fine enough for any VFR timestamp
CRF_CODECS = frozenset({"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"})
BT709 = 1  # AVCOL_SPC_BT709 = AVCOL_PRI_BT709 = AVCOL_TRC_BT709
MPEG_RANGE = 1  # AVCOL_RANGE_MPEG: limited (16-235), what every player expects
AUDIO_LEAD = 0.5  # seconds of audio muxed ahead of the video clock, for smooth interleaving


def frame_rate(fps: float | Fraction) -> Fraction:
    """An exact rate from a float: 29.97 -> 2997/100, 30000/1001 survives as itself."""
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return rate


class VideoWriter:
    """Encode RGB frames to ``path`` (.mp4, .mov, .mkv ...), optionally copying ``audio_from``'s audio.

    ``write(image, time)`` takes the frame's time in seconds (from :class:`Frame`) to keep
    variable frame rates; without it frames are spaced at ``1/fps``. Odd sizes are padded by one
    edge pixel to the even size yuv420p needs. Use as a context manager; on an exception inside
    the block the file is closed without flushing more data.
    """

    def __init__(
        self,
        path: str | Path | BinaryIO,
        *,
        width: int,
        height: int,
        fps: float | Fraction,
        audio_from: str | Path | None = None,
        crf: int = 18,
        codec: str = "libx264",
        pix_fmt: str = "yuv420p",
        preset: str | None = None,
        container_format: str | None = None,
        gop: int | None = None,
    ) -> None:
        in_memory = not isinstance(path, (str, Path))
        self.path = Path("<memory>." + (container_format or "mp4")) if in_memory else Path(path)
        self.width, self.height = int(width), int(height)
        if self.width <= 0 or self.height <= 0:
            raise MediaError(f"{self.path}: cannot write a {width}x{height} video")
        if not in_memory and not self.path.parent.is_dir():
            raise MediaError(f"{self.path}: cannot create video file (folder {self.path.parent} does not exist)")
        self.rate = frame_rate(fps)
        self.frames_written = 0
        self.audio_packets_copied = 0
        self._last_pts = -1
        self._audio: AudioCopy | None = AudioCopy.open(Path(audio_from)) if audio_from is not None else None
        try:
            self._out = av.open(path if in_memory else str(self.path), "w", format=container_format or ("mp4" if in_memory else None))
        except AV_ERRORS as exc:
            self._close_source()
            raise MediaError(f"{self.path}: cannot create video file ({exc})") from None
        try:
            self._video = self._add_video(codec, pix_fmt, crf, preset, gop)
            if self._audio is not None:
                self._audio.add_to(self._out, self.path)
        except MediaError:
            self._abort()
            raise
        except AV_ERRORS as exc:
            self._abort()
            raise MediaError(f"{self.path}: cannot set up {codec} encoding ({exc})") from None

    def _add_video(self, codec: str, pix_fmt: str, crf: int, preset: str | None, gop: int | None):
        if codec not in self._out.supported_codecs:
            raise MediaError(
                f"{self.path}: a {self.path.suffix or 'this'} file cannot hold {codec} video; "
                "use .mp4, .mov or .mkv (or another codec)"
            )
        stream = self._out.add_stream(codec, rate=self.rate)
        stream.width = self.width + self.width % 2
        stream.height = self.height + self.height % 2
        stream.pix_fmt = pix_fmt
        stream.codec_context.time_base = Fraction(1, TICKS)
        if gop is not None:
            stream.codec_context.gop_size = int(gop)  # frames between keyframes at most (the encoder adds some at cuts)
        options: dict[str, str] = {}
        if codec in CRF_CODECS:
            options["crf"] = str(crf)
        if preset is not None:
            options["preset"] = preset
        stream.options = options
        if pix_fmt.startswith("yuv"):
            # Say which YUV we wrote: untagged, players guess BT.601 or BT.709 from the size and
            # HD output would shift in colour. sRGB input shares BT.709 primaries.
            context = stream.codec_context
            context.colorspace, context.color_primaries, context.color_trc = BT709, BT709, BT709
            context.color_range = MPEG_RANGE
        return stream

    def write(self, image: Image, time: float | None = None) -> None:
        """Encode one RGB uint8 (height, width, 3) image shown at ``time`` seconds."""
        array = np.asarray(image)
        if array.dtype != np.uint8 or array.shape != (self.height, self.width, 3):
            raise MediaError(
                f"{self.path}: frame {self.frames_written} is {array.dtype} {array.shape}, "
                f"expected uint8 {(self.height, self.width, 3)}"
            )
        if self.width % 2 or self.height % 2:
            array = np.pad(array, ((0, self.height % 2), (0, self.width % 2), (0, 0)), mode="edge")
        if time is None:
            time = float(self.frames_written / self.rate)
        pts = max(round(time * TICKS), self._last_pts + 1)  # pts must grow strictly
        self._last_pts = pts
        try:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            if self._video.pix_fmt.startswith("yuv"):
                frame = frame.reformat(
                    format=self._video.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG"
                )
                frame.colorspace, frame.color_range = BT709, MPEG_RANGE
            frame.pts, frame.time_base = pts, Fraction(1, TICKS)
            self._out.mux(self._video.encode(frame))
            if self._audio is not None:
                self._audio.copy(until=pts / TICKS + AUDIO_LEAD)
                self.audio_packets_copied = self._audio.copied
        except AV_ERRORS as exc:
            raise MediaError(f"{self.path}: cannot encode frame {self.frames_written} ({exc})") from None
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder, copy the rest of the audio and finish the file."""
        if self._out is None:
            return
        try:
            if self.frames_written == 0:
                raise MediaError(f"{self.path}: no frames were written")
            self._out.mux(self._video.encode(None))
            if self._audio is not None:
                self._audio.copy(until=None)
            self._out.close()
        except AV_ERRORS as exc:
            raise MediaError(f"{self.path}: cannot finish video ({exc})") from None
        finally:
            self._abort()

    def _abort(self) -> None:
        out, self._out = getattr(self, "_out", None), None
        if out is not None:
            try:
                out.close()
            except AV_ERRORS:
                pass
        self._close_source()

    def _close_source(self) -> None:
        audio, self._audio = self._audio, None
        if audio is not None:
            self.audio_packets_copied = audio.copied
            audio.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


class AudioCopy:
    """The first audio stream of a source file, copied packet for packet into an output container.

    Packet times are shifted by the source's start time, the clock :func:`read_frames` reports,
    so the copy stays in sync with video written at those frame times.
    """

    def __init__(self, source: Path, container: av.container.InputContainer) -> None:
        self.source = source
        self._source: av.container.InputContainer | None = container
        self._stream = container.streams.audio[0]
        self._origin = start_seconds(container)
        self._packets: Iterator[av.Packet] | None = container.demux(self._stream)
        self._pending: av.Packet | None = None
        self._out: av.container.OutputContainer | None = None
        self._out_stream = None
        self.copied = 0

    @classmethod
    def open(cls, source: Path) -> "AudioCopy | None":
        """The source's audio, or None when it has none (a silent clip stays silent)."""
        check_file(source)
        try:
            container = av.open(str(source), "r")
        except AV_ERRORS as exc:
            raise MediaError(f"{source}: cannot open audio source ({exc})") from None
        if not container.streams.audio:
            container.close()
            return None
        return cls(source, container)

    def add_to(self, out: av.container.OutputContainer, path: Path) -> None:
        """Add the audio stream to ``out`` (``path`` names it in errors)."""
        name = self._stream.codec_context.name
        descriptor = self._stream.codec_context.codec.name
        supported = out.supported_codecs
        if name not in supported and descriptor not in supported:
            raise MediaError(
                f"{path}: a {path.suffix or 'this'} file cannot hold the {name} audio of "
                f"{self.source} without re-encoding; write .mkv or .mov instead"
            )
        self._out, self._out_stream = out, out.add_stream_from_template(self._stream)

    def copy(self, until: float | None) -> None:
        """Mux source audio packets whose time is before ``until`` seconds (all of them when None)."""
        if self._packets is None or self._out is None:
            return
        base = self._stream.time_base
        shift = round(self._origin / base) if base else 0
        while True:
            packet = self._pending
            self._pending = None
            if packet is None:
                packet = next(self._packets, None)
                if packet is None:
                    self._packets = None
                    return
            if packet.size == 0 or packet.dts is None:
                continue  # the demuxer's end-of-stream marker
            if until is not None and packet.pts is not None and (packet.pts - shift) * base > until:
                self._pending = packet
                return
            packet.pts = packet.pts - shift if packet.pts is not None else None
            packet.dts -= shift
            packet.stream = self._out_stream
            self._out.mux(packet)
            self.copied += 1

    def close(self) -> None:
        source, self._source = self._source, None
        self._packets = self._pending = None
        if source is not None:
            source.close()
