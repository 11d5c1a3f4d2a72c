"""One face shape from many views: every crop's 478 points aligned, outliers dropped, averaged.

A crop's landmarks are in its pixels (x right, y down, z away from the camera, in x's units).
The model frame is glTF's: metres, X to the subject's left, Y up, Z out of the face toward
whoever looks at it; the origin lies midway between the two iris centres. The scale comes from
the distance between the iris centres, taken to be ``INTEROCULAR_M`` (the mean adult
interpupillary distance): a photo holds no absolute size, so every avatar has that eye distance.

The fit is a generalised Procrustes analysis: each view is brought onto the running mean by
the similarity (rotation, scale, shift) that best fits the points an expression does not move,
the mean is taken again, and so on. A view that stays far from the others after that (a
mesh fitted to the wrong face, a badly turned crop) is dropped, and each point is averaged
only over the views that agree on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from likeness.avatar.topology import LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE, SURFACE_POINTS
from likeness.faces.quality import LEFT_EYE_EAR, OPEN_EAR, RIGHT_EYE_EAR, eye_aspect_ratio, mouth_open
from likeness.faces.pose import PITCH_OFFSET
from likeness.faces.types import Landmarks

Points = NDArray[np.float64]  # (N, 3) in the model frame

INTEROCULAR_M = 0.063  # distance between the iris centres every avatar is scaled to (metres)
# Points no expression moves much: forehead, the bridge and tip of the nose, temples, cheekbones.
STEADY = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 109, 338, 67, 297, 103, 332, 54, 284,
          127, 356, 234, 454, 116, 345, 117, 346, 123, 352, 143, 372)
OUTLIER_MADS = 3.5  # a view this many median absolute deviations past the median residual is dropped
POINT_MADS = 3.0  # per point: a view this far off the others' agreement is left out of that point's mean
ITERATIONS = 4


@dataclass(frozen=True)
class Fit:
    """The mean shape in metres, the views that made it and what was dropped.

    ``views`` holds every view's points brought into the mean's frame (for the morph targets);
    ``used`` the indices of the views averaged into ``shape``; ``rejected`` those dropped as
    outliers: a rest view far from the others, or any other view whose steady points are.
    """

    shape: Points  # (478, 3)
    views: tuple[Points, ...]
    used: tuple[int, ...]
    rejected: tuple[int, ...]
    residual_m: float  # RMS distance of the used views from the mean, metres


def model_points(landmarks: Landmarks) -> Points:
    """Crop pixels (x right, y down, z away) to the model's axes (X right, Y up, Z toward the viewer)."""
    p = np.asarray(landmarks, np.float64)[:, :3]
    return np.stack([p[:, 0], -p[:, 1], -p[:, 2]], axis=1)


def similarity(src: Points, dst: Points) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Least-squares scale, rotation and shift taking ``src`` onto ``dst`` (Umeyama, no reflection)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1.0
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign) / max((s**2).sum(1).mean(), 1e-12))
    return scale, rotation, mu_d - scale * rotation @ mu_s


def onto(points: Points, reference: Points, anchor: Sequence[int] = STEADY) -> Points:
    """``points`` moved by the similarity that best fits their ``anchor`` points to the reference's."""
    idx = list(anchor)
    scale, rotation, shift = similarity(points[idx], reference[idx])
    return scale * points @ rotation.T + shift


def interocular(points: Points) -> float:
    return float(np.linalg.norm(points[LEFT_IRIS_CENTRE] - points[RIGHT_IRIS_CENTRE]))


def metric(points: Points) -> Points:
    """In metres (the iris centres ``INTEROCULAR_M`` apart), the origin between them, level and facing +Z.

    Level: the eye line along X, and pitched so that ``faces.head_pose`` reads the face as
    level (its forehead-to-chin line leans back by ``PITCH_OFFSET``), so the avatar looks
    straight along +Z.
    """
    p = np.asarray(points, np.float64)
    origin = (p[LEFT_IRIS_CENTRE] + p[RIGHT_IRIS_CENTRE]) / 2
    p = (p - origin) * (INTEROCULAR_M / max(interocular(p), 1e-12))
    x = p[LEFT_IRIS_CENTRE] - p[RIGHT_IRIS_CENTRE]
    x /= np.linalg.norm(x)
    up = p[10] - p[152]  # forehead over chin
    y = up - (up @ x) * x
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    tilt = np.radians(PITCH_OFFSET)
    level = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(tilt), -np.sin(tilt)], [0.0, np.sin(tilt), np.cos(tilt)]])
    return p @ np.stack([x, y, z], axis=1) @ level.T


def _robust_mean(stack: NDArray[np.float64]) -> Points:
    """Per point, the mean over the views that agree on it (median absolute deviation test)."""
    if len(stack) < 3:
        return stack.mean(0)
    median = np.median(stack, axis=0)
    off = np.linalg.norm(stack - median, axis=2)  # (V, N)
    spread = np.median(off, axis=0) * 1.4826 + 1e-9
    keep = off <= np.maximum(POINT_MADS * spread, np.median(off))
    weights = keep[..., None].astype(np.float64)
    return (stack * weights).sum(0) / np.maximum(weights.sum(0), 1.0)


def fit_views(landmarks: Sequence[Landmarks], *, base: Sequence[int] | None = None) -> Fit:
    """The mean shape of the views in ``base`` (default: all), every view aligned to it.

    ``base`` lets the caller average only the neutral views (mouth closed, eyes open), so the
    avatar's rest pose is not half a smile; the expressive views are still aligned, for the
    morph targets.
    """
    if not landmarks:
        raise ValueError("no views to fit")
    views = [model_points(lm) for lm in landmarks]
    if any(v.shape[0] < SURFACE_POINTS + 10 for v in views):
        raise ValueError("every view needs the 478 mediapipe points (468 surface + 10 iris)")
    chosen = list(range(len(views))) if not base else sorted(set(base))
    mean = metric(views[chosen[0]])
    used = chosen
    for _ in range(ITERATIONS):
        aligned = [onto(v, mean) for v in views]
        keep = _agreeing([_rms(aligned[i] - mean) for i in chosen])
        used = [i for i, ok in zip(chosen, keep) if ok] or chosen
        mean = metric(_robust_mean(np.stack([aligned[i] for i in used])))
    aligned = [onto(v, mean) for v in views]
    # The other views (expressive ones) are judged on the points an expression does not move.
    steady = list(STEADY)
    agree = _agreeing([_rms(a[steady] - mean[steady]) for a in aligned])
    rejected = tuple(i for i in range(len(views)) if (i in chosen and i not in used) or (i not in chosen and not agree[i]))
    rms = float(np.sqrt(np.mean([_rms(aligned[i] - mean) ** 2 for i in used])))
    return Fit(mean, tuple(aligned), tuple(used), rejected, rms)


def _rms(offsets: Points) -> float:
    return float(np.sqrt((offsets**2).sum(1).mean()))


def _agreeing(residuals: Sequence[float]) -> list[bool]:
    """Which residuals are not outliers: within ``OUTLIER_MADS`` median absolute deviations of the
    median, or at most twice the median (a tight cluster's small spread rejects nobody)."""
    r = np.asarray(residuals, np.float64)
    median = float(np.median(r))
    mad = float(np.median(np.abs(r - median))) * 1.4826
    return [bool(v <= max(median + OUTLIER_MADS * mad, 2 * median)) for v in r]


def mouth_aperture(landmarks: Landmarks) -> float:
    """Inner-lip gap over mouth width (0 closed, ~0.5 wide open), as the faceset's quality measures it."""
    return mouth_open(landmarks)


def eye_aperture(landmarks: Landmarks, side: str) -> float:
    """One eye's aperture, ~1 relaxed open, ~0 closed; ``side`` is the subject's ``left`` or ``right``."""
    return eye_aspect_ratio(landmarks, LEFT_EYE_EAR if side == "left" else RIGHT_EYE_EAR) / OPEN_EAR
