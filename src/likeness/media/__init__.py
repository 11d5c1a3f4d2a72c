"""likeness.media: images and video in and out (Pillow, PyAV), audio carried through untouched.

Images are RGB uint8 (H, W, 3); times are seconds. Every failure is a one-line MediaError.
"""

from likeness.media.errors import MediaError
from likeness.media.frames import FrameReader, read_frames
from likeness.media.image import read_image, write_image
from likeness.media.probe import is_video, probe
from likeness.media.rotation import rotate_upright
from likeness.media.types import Frame, Image, MediaInfo

__all__ = [
    "Frame",
    "FrameReader",
    "Image",
    "MediaError",
    "MediaInfo",
    "is_video",
    "probe",
    "read_frames",
    "read_image",
    "rotate_upright",
    "write_image",
]
