"""Face geometry from the landmarks: pose and expression descriptors, and the shape blend.

Everything here works on 3D landmark sets (mediapipe order, pixels, z in pixel units) and a
similarity fit between them, so that the descriptors of a 512 px faceset crop and of a 90 px
face in a video frame are comparable and independent of roll.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from likeness.swap import mesh

Points = NDArray[np.float32]  # (N, 3)

# Points whose position barely moves with expression: the fit uses only these.
_LIPS = set(mesh.LIPS_INNER) | set(mesh.LIPS_OUTER)
_LOWER_OVAL = set(mesh.FACE_OVAL[9:28])  # from the right jaw angle round the chin to the left one
STABLE = np.array([i for i in range(468) if i not in _LIPS and i not in _LOWER_OVAL], np.int32)


@dataclass(frozen=True)
class Similarity:
    """``dst ≈ scale * src @ rotation.T + shift``."""

    scale: float
    rotation: NDArray[np.float64]  # (3, 3)
    shift: NDArray[np.float64]  # (3,)

    def apply(self, points: Points) -> Points:
        return (self.scale * points @ self.rotation.T + self.shift).astype(np.float32)


def fit_similarity(src: Points, dst: Points, index: NDArray[np.int32] = STABLE) -> Similarity:
    """Least-squares 3D similarity (Umeyama) from ``src`` to ``dst`` on the ``index`` points."""
    a = np.asarray(src, np.float64)[index, :3]
    b = np.asarray(dst, np.float64)[index, :3]
    ca, cb = a.mean(0), b.mean(0)
    a0, b0 = a - ca, b - cb
    u, sig, vt = np.linalg.svd(b0.T @ a0 / len(a))
    d = np.ones(3)
    if np.linalg.det(u @ vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = float((sig * d).sum() / max(a0.var(0).sum(), 1e-12))
    return Similarity(scale, rotation, cb - scale * rotation @ ca)


def canonical_shape(shapes: list[Points]) -> Points:
    """Mean shape of a faceset, aligned and scaled to unit size: the identity's proportions."""
    ref = _normalise(np.asarray(shapes[0], np.float32)[:478, :3])
    for _ in range(2):
        aligned = [fit_similarity(s[:478, :3], ref).apply(s[:478, :3]) for s in shapes]
        ref = _normalise(np.mean(aligned, axis=0).astype(np.float32))
    return ref


def _normalise(points: Points) -> Points:
    centred = points - points[STABLE].mean(0)
    return (centred / np.sqrt((centred[STABLE] ** 2).sum(1).mean())).astype(np.float32)


def facing(fit: Similarity) -> NDArray[np.float64]:
    """Unit direction the face points to, in the image: roll-free pose descriptor."""
    return fit.rotation[:, 2].copy()


def _dist(p: Points, a: int, b: int) -> float:
    return float(np.linalg.norm(p[a, :3] - p[b, :3]))


def expression(points: Points) -> NDArray[np.float64]:
    """Mouth opening, eye apertures, mouth width and smile, as ratios (scale free)."""
    p = np.asarray(points, np.float32)
    iod = float(np.linalg.norm(p[list(mesh.RIGHT_EYE)].mean(0) - p[list(mesh.LEFT_EYE)].mean(0)))
    iod = max(iod, 1e-6)
    mouth_open = _dist(p, 13, 14) / max(_dist(p, 78, 308), 1e-6)
    eye_r = _dist(p, 159, 145) / max(_dist(p, 33, 133), 1e-6)
    eye_l = _dist(p, 386, 374) / max(_dist(p, 362, 263), 1e-6)
    mouth_width = _dist(p, 61, 291) / iod
    # Corners above the lip centre line means a smile; measured along the face's own up axis.
    up = p[168, :3] - p[152, :3]
    up = up / max(float(np.linalg.norm(up)), 1e-6)
    centre = (p[0, :3] + p[17, :3]) / 2
    smile = float(((p[61, :3] + p[291, :3]) / 2 - centre) @ up) / iod
    return np.array([mouth_open, eye_r, eye_l, mouth_width, smile])


# How much each expression feature counts when looking for the nearest crop.
EXPRESSION_SCALE = np.array([0.08, 0.08, 0.08, 0.08, 0.05])


def reshape(target: Points, canonical: Points, strength: float = 0.8, *,
            fit: Similarity | None = None) -> Points:
    """Move the target's points toward the source's proportions, keeping its expression.

    The source's canonical shape is posed onto the target; each point moves ``strength`` of the
    way there, except that each eye and the lips move as one block (the target's eyelid aperture
    and mouth opening stay) and the chin follows the target's jaw drop. ``fit`` is the
    canonical shape's similarity onto the target, when already known.
    """
    t = np.asarray(target, np.float32)[:478, :3]
    posed = (fit or fit_similarity(canonical, t)).apply(canonical)
    # Jaw drop: open the posed source mouth as much as the target's, carrying the chin with it.
    jaw = (t[14] - t[13]) - (posed[14] - posed[13])
    down = posed[152] - posed[168]
    down_len = float(np.linalg.norm(down))
    if down_len > 1e-6:
        down /= down_len
        depth = ((posed - posed[61]) @ down) / max(float((posed[14] - posed[61]) @ down), 1e-6)
        posed = posed + np.clip(depth, 0, 1)[:, None] * jaw[None, :]
    move = posed - t
    for group, anchor in ((mesh.RIGHT_EYE + mesh.RIGHT_IRIS, mesh.RIGHT_EYE),
                          (mesh.LEFT_EYE + mesh.LEFT_IRIS, mesh.LEFT_EYE),
                          (mesh.LIPS_INNER + mesh.LIPS_OUTER, mesh.LIPS_OUTER)):
        move[list(group)] = move[list(anchor)].mean(0)
    out = t + strength * move
    out[:, 2] = t[:, 2]  # depth order stays the target's
    return out.astype(np.float32)
