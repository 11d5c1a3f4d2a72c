"""What a file is, read from headers (and one decoded frame for video rotation)."""

from __future__ import annotations

from pathlib import Path

from likeness.media.errors import MediaError
from likeness.media.image import check_file, open_image
from likeness.media.rotation import quarter_turns
from likeness.media.types import MediaInfo

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".mxf"}
)


def probe(path: str | Path) -> MediaInfo:
    """Kind, displayed size, rate, length, audio and codec of an image or video file.

    ``frame_count`` comes from the container when it records it, else from counting video packets
    (demuxing only, no decoding), so it is exact for the MPEG files that carry no count.
    """
    path = check_file(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return probe_image(path)
    if suffix in VIDEO_SUFFIXES:
        return probe_video(path)
    try:  # an unknown suffix: let the content decide
        return probe_image(path)
    except MediaError:
        pass
    try:
        return probe_video(path)
    except MediaError:
        raise MediaError(f"{path}: not an image or video file likeness can read") from None


def probe_image(path: Path) -> MediaInfo:
    # A large limit: probing must describe a big image, reading it is what refuses it.
    with open_image(path, max_pixels=1 << 40) as im:
        width, height = im.size
        orientation = im.getexif().get(0x0112, 1)
        if orientation in (5, 6, 7, 8):  # EXIF transposes: the upright image is turned
            width, height = height, width
        return MediaInfo(
            path=str(path), kind="image", width=width, height=height, fps=0.0, frame_count=1,
            duration=0.0, has_audio=False, rotation=0, codec=(im.format or "").lower(),
        )


def probe_video(path: Path) -> MediaInfo:
    from likeness.media.frames import AV_ERRORS, open_video  # PyAV: an image never needs it

    container, stream = open_video(path)
    try:
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        rotation = first_frame_rotation(container, stream)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frame_count = stream.frames or count_packets(path)
        width, height = stream.codec_context.width, stream.codec_context.height
        if quarter_turns(rotation) % 2:
            width, height = height, width
        audio = container.streams.audio[0] if container.streams.audio else None
        return MediaInfo(
            path=str(path), kind="video", width=width, height=height, fps=fps,
            frame_count=int(frame_count), duration=duration, has_audio=audio is not None,
            rotation=rotation, codec=stream.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )
    except AV_ERRORS as exc:
        raise MediaError(f"{path}: cannot read video ({exc})") from None
    finally:
        container.close()


def first_frame_rotation(container, stream) -> int:
    """Display rotation of the first decodable frame (FFmpeg puts the stream's matrix on frames)."""
    from likeness.media.frames import AV_ERRORS

    try:
        for frame in container.decode(stream):
            return int(frame.rotation)
    except AV_ERRORS:
        pass
    return 0


def count_packets(path: Path) -> int:
    from likeness.media.frames import AV_ERRORS, open_video

    container, stream = open_video(path)
    try:
        return sum(1 for packet in container.demux(stream) if packet.size > 0)
    except AV_ERRORS:
        return 0
    finally:
        container.close()


def is_video(path: str | Path) -> bool:
    """True for a video file: by suffix when it is a known one, else by probing."""
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return True
    if suffix in IMAGE_SUFFIXES:
        return False
    return probe(path).kind == "video"
