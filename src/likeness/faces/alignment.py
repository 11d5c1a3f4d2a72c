"""Similarity-transform alignment of a face to a canonical crop of any size.

The canonical layout is the 5-point ArcFace/InsightFace template (eye centres, nose tip, mouth
corners) scaled to a unit square; ``padding`` widens the crop around it, so padding=0 is a tight
"face" crop and padding≈0.25-0.4 a "whole face" crop with forehead, jaw and some background, like
DeepFaceLab's whole-face or FFHQ crops. Only rotation, uniform scale and translation are used, so
the face keeps its proportions and the inverse is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.faces.types import Face, Image, Landmarks

# mediapipe mesh indices of the five anchor points, image-left first (the subject's right eye).
RIGHT_EYE = (33, 133)  # outer, inner corner
LEFT_EYE = (362, 263)  # inner, outer corner
NOSE_TIP = 1
MOUTH_RIGHT, MOUTH_LEFT = 61, 291  # image-left, image-right mouth corner

# ArcFace 112x112 template divided by 112: image-left eye, image-right eye, nose, mouth corners.
UNIT_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
) / 112.0


@dataclass(frozen=True, eq=False)
class Aligned:
    """A canonical crop: ``matrix`` (2x3) maps image pixels to crop pixels."""

    image: Image
    matrix: NDArray[np.float64]
    landmarks: Landmarks  # (478, 3) in crop pixels; z scaled like x and y

    @property
    def inverse(self) -> NDArray[np.float64]:
        """2x3 matrix from crop pixels back to image pixels (for pasting a result back)."""
        return cv2.invertAffineTransform(self.matrix)


def anchor_points(landmarks: Landmarks) -> NDArray[np.float64]:
    """The five anchor points (x, y) of a mesh, in the order of ``UNIT_TEMPLATE``."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    return np.stack(
        [
            pts[list(RIGHT_EYE)].mean(axis=0),
            pts[list(LEFT_EYE)].mean(axis=0),
            pts[NOSE_TIP],
            pts[MOUTH_RIGHT],
            pts[MOUTH_LEFT],
        ]
    )


def canonical_points(size: int, padding: float = 0.25) -> NDArray[np.float64]:
    """Where the five anchor points land in a ``size`` x ``size`` crop with this padding."""
    return size * ((UNIT_TEMPLATE - 0.5) / (1.0 + 2.0 * padding) + 0.5)


def similarity_matrix(src: NDArray[np.float64], dst: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least-squares similarity transform (Umeyama, no reflection) taking src points to dst, 2x3."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / (s**2).sum(axis=1).mean()
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rot
    matrix[:, 2] = mu_d - scale * rot @ mu_s
    return matrix


def transform_landmarks(landmarks: Landmarks, matrix: NDArray[np.float64]) -> Landmarks:
    """Apply a 2x3 similarity to (N, 3) landmarks; z is scaled by the same factor as x and y."""
    pts = np.asarray(landmarks, dtype=np.float64)
    out = np.empty_like(pts)
    out[:, :2] = pts[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    if pts.shape[1] > 2:
        out[:, 2:] = pts[:, 2:] * float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    return out.astype(np.float32)


def align(image: Image, face: Face, size: int = 256, *, padding: float = 0.25) -> Aligned:
    """Warp ``face`` to the canonical ``size`` x ``size`` crop; borders are replicated."""
    if size < 8:
        raise ValueError(f"alignment size must be at least 8 px, got {size}")
    matrix = similarity_matrix(anchor_points(face.landmarks), canonical_points(size, padding))
    crop = cv2.warpAffine(
        np.ascontiguousarray(image),
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return Aligned(image=crop, matrix=matrix, landmarks=transform_landmarks(face.landmarks, matrix))


def matrix_scale(matrix: NDArray[np.float64]) -> float:
    """Uniform scale factor of a 2x3 similarity matrix."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix)[:, :2]))))
