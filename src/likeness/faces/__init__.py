"""likeness.faces: detection, 478-point mesh, pose, alignment, identity, quality, tracking.

Images are RGB uint8 (H, W, 3); coordinates are pixels of the analysed image.

The detector (mediapipe) and the tracker (scipy) are imported on first use, so the packages that
only need the types (the vault, the CLI's vault commands) do not load them.
"""


from likeness.lazy import lazy
from likeness.faces.alignment import Aligned, align, canonical_points
from likeness.faces.identity import SAME_PERSON_THRESHOLD, distance, same_person
from likeness.faces.pose import head_pose
from likeness.faces.quality import quality
from likeness.faces.types import Embedding, Face, Faceset, FacesetItem, Image, Landmarks, Pose, Quality

_LAZY = {
    "FaceAnalyzer": "likeness.faces.detection",
    "OneEuroFilter": "likeness.faces.tracking",
    "Tracker": "likeness.faces.tracking",
    "analyze_video": "likeness.faces.tracking",
    "frame_signature": "likeness.faces.tracking",
    "is_scene_cut": "likeness.faces.tracking",
}


__getattr__ = lazy(__name__, _LAZY)

__all__ = [
    "Aligned",
    "Embedding",
    "Face",
    "FaceAnalyzer",
    "Faceset",
    "FacesetItem",
    "Image",
    "Landmarks",
    "OneEuroFilter",
    "Pose",
    "Quality",
    "SAME_PERSON_THRESHOLD",
    "Tracker",
    "align",
    "analyze_video",
    "canonical_points",
    "distance",
    "frame_signature",
    "head_pose",
    "is_scene_cut",
    "quality",
    "same_person",
]
