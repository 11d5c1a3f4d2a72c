"""likeness.faces: detection, 478-point mesh, pose, alignment, identity, quality, tracking.

Images are RGB uint8 (H, W, 3); coordinates are pixels of the analysed image.
"""

from likeness.faces.alignment import Aligned, align, canonical_points
from likeness.faces.detection import FaceAnalyzer
from likeness.faces.identity import SAME_PERSON_THRESHOLD, distance, same_person
from likeness.faces.pose import head_pose
from likeness.faces.quality import quality
from likeness.faces.tracking import OneEuroFilter, Tracker, analyze_video, frame_signature, is_scene_cut
from likeness.faces.types import Embedding, Face, Image, Landmarks, Pose, Quality

__all__ = [
    "Aligned",
    "Embedding",
    "Face",
    "FaceAnalyzer",
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
