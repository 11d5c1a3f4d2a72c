"""Domain types of media: what a file is (``MediaInfo``) and one decoded video frame (``Frame``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]  # RGB, HxWx3 (the same alias as likeness.faces.types.Image)


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` learns about a file without decoding it all.

    ``width``/``height`` are the displayed size (after rotation), i.e. the size of the images
    that :func:`read_image`/:func:`read_frames` return. ``rotation`` is the counter-clockwise
    angle in degrees that was applied to get there (0 for images: EXIF is applied silently).
    For images ``fps``/``duration`` are 0 and ``frame_count`` is 1.
    """

    path: str
    kind: Literal["image", "video"]
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    has_audio: bool
    rotation: int
    codec: str
    audio_codec: str | None = None


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded video frame: ``index`` counts yielded frames from 0, ``time`` is seconds from
    the start of the file (the container's start time is subtracted, so audio copied with
    :class:`VideoWriter` stays in sync), ``image`` is upright RGB uint8."""

    index: int
    time: float
    image: Image
