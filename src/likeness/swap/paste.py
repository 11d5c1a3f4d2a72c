"""Pasting a model's aligned square crop back into the frame, for engines that work on one.

One-shot and trained engines both paint the face in an aligned square; the pipeline composites a
:class:`Patch` in frame coordinates, so the square and its mask are warped back into the box of
the frame they cover.
"""

from __future__ import annotations

import cv2
import numpy as np

from likeness.errors import InputError
from likeness.faces.types import Face, Image
from likeness.swap.engine import Patch


def paste_square(frame: Image, crop: Image, mask: np.ndarray, inverse: np.ndarray, face: Face, *,
                 interpolation: int = cv2.INTER_LINEAR) -> Patch:
    """Warp the aligned ``crop`` and its ``mask`` (square, same size) through ``inverse`` (2x3, crop to frame)."""
    s = crop.shape[0]
    corners = np.array([[0, 0, 1], [s, 0, 1], [0, s, 1], [s, s, 1]], np.float64) @ inverse.T
    h, w = frame.shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int), [w, h])
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise InputError(f"face at {face.box} lies outside the frame")
    shift = inverse.copy()
    shift[:, 2] -= (x0, y0)
    size = (int(x1 - x0), int(y1 - y0))
    image = cv2.warpAffine(crop, shift, size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
    out_mask = cv2.warpAffine(mask.astype(np.float32), shift, size, flags=cv2.INTER_LINEAR, borderValue=0)
    return Patch(image, np.clip(out_mask, 0, 1).astype(np.float32), int(x0), int(y0))
