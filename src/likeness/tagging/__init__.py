"""likeness.tagging: every output recognisable as synthetic (watermark, C2PA, XMP, visible label)."""

from likeness.tagging.watermark import (
    FALSE_POSITIVE_BOUND,
    PUBLIC_KEY,
    Detection,
    Watermarker,
    detect,
    detect_frames,
    embed,
    embed_frames,
)

__all__ = [
    "FALSE_POSITIVE_BOUND",
    "PUBLIC_KEY",
    "Detection",
    "Watermarker",
    "detect",
    "detect_frames",
    "embed",
    "embed_frames",
]
