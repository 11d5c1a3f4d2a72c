"""likeness.tagging: every output recognisable as synthetic (watermark, C2PA, XMP, visible label)."""

from likeness.tagging.content_credentials import COMPOSITE_SOURCE, Manifest, read_manifest, sidecar_of, sign
from likeness.tagging.fingerprint import MATCH_THRESHOLD as FINGERPRINT_THRESHOLD
from likeness.tagging.fingerprint import Fingerprint, FingerprintMatch
from likeness.tagging.seam import mark_frame, seal, seal_sidecar
from likeness.tagging.verify import Verdict, verify
from likeness.tagging.visible_label import LabelSchedule, label_box, visible_label
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
from likeness.tagging.xmp import add_xmp_label, read_xmp_label

__all__ = [
    "COMPOSITE_SOURCE",
    "FALSE_POSITIVE_BOUND",
    "FINGERPRINT_THRESHOLD",
    "PUBLIC_KEY",
    "Detection",
    "Fingerprint",
    "FingerprintMatch",
    "LabelSchedule",
    "Manifest",
    "Verdict",
    "Watermarker",
    "add_xmp_label",
    "detect",
    "detect_frames",
    "embed",
    "embed_frames",
    "label_box",
    "mark_frame",
    "read_manifest",
    "read_xmp_label",
    "seal",
    "seal_sidecar",
    "sidecar_of",
    "sign",
    "verify",
    "visible_label",
]
