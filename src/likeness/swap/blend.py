"""Blending the colour-matched face into its backdrop: multi-band (default) or Poisson.

Laplacian-pyramid blending keeps the new face's own low frequencies, which is where identity and
skin tone live; Poisson cloning pulls the target's edge colours into the face (measured in
``../shared/docs/swap-notes.md``), so it is the option, not the default.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.faces.types import Image

BLEND_MODES = ("laplacian", "poisson")


def levels_for(shape: tuple[int, ...], wanted: int = 5) -> int:
    """As many pyramid levels as the crop allows (the coarsest level stays >= 16 px), so a small
    face is not blended over a wide ring around it."""
    side = min(shape[:2])
    return max(1, min(wanted, int(np.log2(max(side, 16) / 16))))


def reach(shape: tuple[int, ...], levels: int = 5) -> int:
    """How far (pixels) a Laplacian blend spreads past the mask: its coarsest level's footprint."""
    return 2 ** levels_for(shape, levels) + 2


def laplacian(face: Image, backdrop: Image, mask: NDArray[np.float32], levels: int = 5) -> Image:
    """Burt-Adelson multi-band blend of ``face`` over ``backdrop`` with a soft ``mask``."""
    levels = levels_for(face.shape, levels)
    a = face.astype(np.float32)
    b = backdrop.astype(np.float32)
    m = mask.astype(np.float32)
    diff = a - b  # blending the difference needs one pyramid instead of two
    gm, lp = [m], []
    cur = diff
    for _ in range(levels):
        down = cv2.pyrDown(cur)
        up = cv2.pyrUp(down, dstsize=(cur.shape[1], cur.shape[0]))
        lp.append(cur - up)
        cur = down
        gm.append(cv2.pyrDown(gm[-1]))
    out = cur * _as3(gm[levels])
    for level in range(levels - 1, -1, -1):
        out = cv2.pyrUp(out, dstsize=(lp[level].shape[1], lp[level].shape[0]))
        out = out + lp[level] * _as3(gm[level])
    return np.clip(b + out + 0.5, 0, 255).astype(np.uint8)


def _as3(m: NDArray[np.float32]) -> NDArray[np.float32]:
    return m if m.ndim == 3 else m[..., None]


def poisson(face: Image, backdrop: Image, mask: NDArray[np.float32]) -> Image:
    """``cv2.seamlessClone`` (normal clone) inside the mask's core."""
    hard = (mask > 0.5).astype(np.uint8) * 255
    if not hard.any():
        return backdrop.copy()
    # seamlessClone needs the mask off the image border.
    hard[:1, :] = hard[-1:, :] = 0
    hard[:, :1] = hard[:, -1:] = 0
    ys, xs = np.nonzero(hard)
    centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    face_bgr = np.ascontiguousarray(face[..., ::-1])
    back_bgr = np.ascontiguousarray(backdrop[..., ::-1])
    out = cv2.seamlessClone(face_bgr, back_bgr, hard, centre, cv2.NORMAL_CLONE)[..., ::-1]
    soft = np.clip(mask, 0, 1)[..., None]
    return np.clip(out * soft + backdrop * (1 - soft) + 0.5, 0, 255).astype(np.uint8)
