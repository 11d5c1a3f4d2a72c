"""likeness.media: images and video in and out (Pillow, PyAV), audio carried through untouched.

Images are RGB uint8 (H, W, 3); times are seconds. Every failure is a one-line MediaError.

The video names (PyAV, 0.05-0.1 s to import) and the progress bar (rich) are imported on first
use, so reading or hashing an image (``likeness verify``) does not load them. ``probe`` and
``is_video`` are bound here at once: ``probe`` is also a submodule's name, and a lazy name would
be shadowed by the submodule the first time anything imports it.
"""


from likeness.lazy import lazy
from likeness.media.digest import sha256_file
from likeness.media.errors import MediaError
from likeness.media.image import decode_image, encode_png, read_image, write_image
from likeness.media.probe import is_video, probe
from likeness.media.rotation import rotate_upright
from likeness.media.types import Frame, Image, MediaInfo

_LAZY = {
    "VideoWriter": "likeness.media.encode",
    "FrameReader": "likeness.media.frames",
    "read_frames": "likeness.media.frames",
    "track_progress": "likeness.media.progress",
    "SequenceWriter": "likeness.media.sequence",
    "VideoIndex": "likeness.media.segments",
    "join_video": "likeness.media.segments",
    "video_index": "likeness.media.segments",
    "write_sequence": "likeness.media.sequence",
}


__getattr__ = lazy(__name__, _LAZY)

__all__ = [
    "sha256_file",
    "decode_image",
    "encode_png",
    "Frame",
    "FrameReader",
    "Image",
    "MediaError",
    "MediaInfo",
    "SequenceWriter",
    "VideoIndex",
    "VideoWriter",
    "is_video",
    "join_video",
    "probe",
    "read_frames",
    "read_image",
    "rotate_upright",
    "track_progress",
    "video_index",
    "write_image",
    "write_sequence",
]
