"""Which pixels of a faceset crop are the face's own skin, and which are something over it.

A source photo's stray hair over the forehead or a temple would otherwise be pasted onto the
target. The skin colour model is learnt from the crop's own cheeks (Lab mean and covariance);
outside the inner features (brows, eyes, nose, lips, widened), a pixel far from that model is
not pasted. Small specks (freckles, a highlight) are closed over; only sizeable departures
count.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.swap import mesh

_CHEEKS = (50, 101, 205, 280, 330, 425)  # cheek apples, well inside the oval
_FEATURES = (
    (70, 63, 105, 66, 107, 55, 65, 52, 53, 46),  # right brow
    (300, 293, 334, 296, 336, 285, 295, 282, 283, 276),  # left brow
    mesh.RIGHT_EYE, mesh.LEFT_EYE, mesh.LIPS_OUTER,
    mesh.NOSE,
)
THRESHOLD = 16.0  # squared Mahalanobis distance (3 dof) past which a pixel is not skin


def skin_keep(image: NDArray[np.uint8], landmarks: NDArray[np.float32]) -> NDArray[np.uint8] | None:
    """(h, w) uint8, 255 where the crop may be pasted, 0 over what departs from its skin colour.

    None when the cheeks give no usable model (then everything may be pasted).
    """
    h, w = image.shape[:2]
    pts = np.asarray(landmarks, np.float32)[:, :2]
    oval = pts[list(mesh.FACE_OVAL)]
    extent = float(np.ptp(oval[:, 0]))
    cheeks = np.zeros((h, w), np.uint8)
    for i in _CHEEKS:
        cv2.circle(cheeks, tuple(int(v) for v in np.round(pts[i])), max(2, int(extent * 0.05)), 255, -1)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    sample = lab[cheeks > 0]
    if len(sample) < 50:
        return None
    for _ in range(2):  # robust: refit on the inliers (a strand or a shadow over a cheek)
        mean = sample.mean(0)
        cov = np.cov(sample.T) + np.diag([9.0, 4.0, 4.0])  # floor: shading and noise on clean skin
        inv = np.linalg.inv(cov).astype(np.float32)
        ds = sample - mean
        inliers = sample[np.einsum("ij,jk,ik->i", ds, inv, ds) < 9.0]
        if len(inliers) < 50:
            return None
        sample = inliers
    # Only the upper face is tested (hair falls there; a beard or a jaw shadow is the face's own).
    eyes = pts[list(mesh.RIGHT_EYE) + list(mesh.LEFT_EYE)]
    top = int(np.clip(np.floor(eyes[:, 1].mean()), 0, h))
    lab_top = lab[:top]
    d = lab_top.reshape(-1, 3) - mean
    d2 = np.einsum("ij,jk,ik->i", d, inv, d).reshape(top, w)
    off = np.zeros((h, w), np.uint8)
    off[:top] = d2 > THRESHOLD
    features = np.zeros((h, w), np.uint8)
    for loop in _FEATURES:
        cv2.fillConvexPoly(features, cv2.convexHull(np.round(pts[list(loop)]).astype(np.int32)), 255)
    grow = max(3, int(round(extent * 0.04))) | 1
    features = cv2.dilate(features, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    # Specks out, then the strands' gaps closed; the inner features always stay.
    k = max(3, int(round(extent * 0.02))) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    off = cv2.morphologyEx(off, cv2.MORPH_OPEN, kernel)
    off = cv2.morphologyEx(off, cv2.MORPH_CLOSE, kernel)
    off = cv2.dilate(off, kernel)
    off[features > 0] = 0
    return np.where(off > 0, 0, 255).astype(np.uint8)
