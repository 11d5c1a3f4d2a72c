"""Masks drawn from the 478 mediapipe landmarks of an aligned crop.

The face mask (hull of the face oval plus the brows) is what the loss cares about and what bounds
the paste; the eyes-and-mouth mask gets extra loss weight because those regions carry the
expression and identity and are what a blurry autoencoder loses first.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

Mask = NDArray[np.float32]  # HxW in [0, 1]

# mediapipe face mesh contours (FACEMESH_LEFT_EYE / RIGHT_EYE / LIPS outer ring / brows).
LEFT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
RIGHT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
LEFT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
RIGHT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
MOUTH = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)


def face_mask(landmarks: np.ndarray, size: int, *, blur: float = 0.0) -> Mask:
    """Convex hull of every landmark (the mesh covers forehead to chin), optionally feathered."""
    mask = np.zeros((size, size), np.uint8)
    pts = np.round(landmarks[:, :2]).astype(np.int32)
    cv2.fillConvexPoly(mask, cv2.convexHull(pts), 255)
    out = mask.astype(np.float32) / 255.0
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    return out


def eyes_mouth_mask(landmarks: np.ndarray, size: int) -> Mask:
    """Eyes with brows and the mouth, each hull grown a little so the loss sees their edges."""
    mask = np.zeros((size, size), np.uint8)
    for ring in (LEFT_EYE + LEFT_BROW, RIGHT_EYE + RIGHT_BROW, MOUTH):
        pts = np.round(landmarks[list(ring), :2]).astype(np.int32)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 255)
    grow = max(1, size // 32)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return mask.astype(np.float32) / 255.0
