"""likeness.media: images and video in and out (Pillow, PyAV), audio carried through untouched.

Images are RGB uint8 (H, W, 3); times are seconds. Every failure is a one-line MediaError.
"""

from likeness.media.digest import sha256_file
from likeness.media.encode import VideoWriter
from likeness.media.errors import MediaError
from likeness.media.frames import FrameReader, read_frames
from likeness.media.image import read_image, write_image
from likeness.media.probe import is_video, probe
from likeness.media.progress import track_progress
from likeness.media.rotation import rotate_upright
from likeness.media.sequence import SequenceWriter, write_sequence
from likeness.media.types import Frame, Image, MediaInfo

__all__ = [
    "sha256_file",
    "Frame",
    "FrameReader",
    "Image",
    "MediaError",
    "MediaInfo",
    "SequenceWriter",
    "VideoWriter",
    "is_video",
    "probe",
    "read_frames",
    "read_image",
    "rotate_upright",
    "track_progress",
    "write_image",
    "write_sequence",
]
