"""Quality scores for keeping or dropping a face crop (faceset filtering, face selection).

Each score is measured on the mesh or on a canonical 128 px crop, so it does not depend on the
size of the frame. ``overall`` is a geometric mean: one bad score (blurred, tiny, profile, eyes
shut) pulls it down, which is what filtering a faceset needs.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from likeness.faces.alignment import align
from likeness.faces.types import Face, Image, Landmarks, Pose, Quality

# Eye aspect ratio points (mediapipe indices): corners, then two vertical pairs.
RIGHT_EYE_EAR = (33, 133, (160, 144), (158, 153))
LEFT_EYE_EAR = (362, 263, (385, 380), (387, 373))
INNER_LIP_TOP, INNER_LIP_BOTTOM = 13, 14
MOUTH_CORNERS = (61, 291)

OPEN_EAR = 0.28  # a relaxed open eye on the mediapipe mesh; eyes_open = EAR / OPEN_EAR
SHARPNESS_SCALE = 200.0  # Laplacian variance at which sharpness reaches 0.5
GOOD_SIZE = 128.0  # face width in pixels at which the size score reaches ~0.63


def eye_aspect_ratio(landmarks: Landmarks, eye: tuple) -> float:
    """Soukupová-Čech eye aspect ratio: mean lid gap over corner distance."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    outer, inner, *pairs = eye
    width = np.linalg.norm(pts[outer] - pts[inner]) + 1e-9
    gaps = [np.linalg.norm(pts[a] - pts[b]) for a, b in pairs]
    return float(np.mean(gaps) / width)


def eyes_open(landmarks: Landmarks) -> float:
    """Mean eye aperture of both eyes, ~1 for a relaxed open eye, ~0 closed."""
    ear = (eye_aspect_ratio(landmarks, RIGHT_EYE_EAR) + eye_aspect_ratio(landmarks, LEFT_EYE_EAR)) / 2
    return round(ear / OPEN_EAR, 3)


def mouth_open(landmarks: Landmarks) -> float:
    """Inner-lip gap relative to mouth width: 0 closed, ~0.5 wide open."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    gap = np.linalg.norm(pts[INNER_LIP_TOP] - pts[INNER_LIP_BOTTOM])
    width = np.linalg.norm(pts[MOUTH_CORNERS[0]] - pts[MOUTH_CORNERS[1]]) + 1e-9
    return round(float(gap / width), 3)


def frontalness(pose: Pose) -> float:
    """1 for a frontal face, 0 at 90 degrees of yaw or pitch."""
    return round(max(0.0, math.cos(math.radians(pose.yaw)) * math.cos(math.radians(pose.pitch))), 3)


def laplacian_variance(image: Image, face: Face) -> float:
    """Variance of the Laplacian on a 128 px canonical grey crop (blur gives low values)."""
    crop = align(image, face, 128, padding=0.0).image
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def quality(image: Image, face: Face) -> Quality:
    """Score one face of ``image``; see the module docstring for how ``overall`` combines them."""
    lap = laplacian_variance(image, face)
    sharp = lap / (lap + SHARPNESS_SCALE)
    width = float(face.box[2])
    size_score = 1.0 - math.exp(-width / GOOD_SIZE)
    front = frontalness(face.pose)
    eyes = eyes_open(face.landmarks)
    eyes_score = min(1.0, eyes)
    parts = [max(sharp, 1e-3), max(size_score, 1e-3), max(front, 1e-3), max(eyes_score, 1e-3)]
    overall = float(np.exp(np.mean(np.log(parts))))
    return Quality(
        sharpness=round(sharp, 3),
        size=width,
        frontalness=front,
        eyes_open=eyes,
        mouth_open=mouth_open(face.landmarks),
        overall=round(min(1.0, max(0.0, overall)), 3),
    )
