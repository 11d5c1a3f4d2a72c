"""The texture's layout: the same UV coordinates for every identity, so a game can paint or mask by UV.

The face surface is unwrapped once, from the canonical face (``avatar.canonical``), by a
cylinder round a vertical axis ``CYLINDER_AXIS`` iris distances behind the eyes (about the
middle of a head): u follows the arc round the face, v runs down it. No triangle folds over
(``tests/test_avatar.py``), and since the canonical face is symmetric, so is the island: the
texel at column c mirrors the one at column ``size - 1 - c``.

Atlas (fractions of the square texture, (0, 0) at the top left, as glTF reads it):

    face island        columns 0.02-0.98, rows 0.02 to about 0.78
    left eye  (iris)   columns 0.02-0.20, rows 0.80-0.98   the subject's left eye
    right eye (iris)   columns 0.22-0.40, rows 0.80-0.98
    mouth inside       columns 0.42-0.60, rows 0.80-0.98
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.avatar.canonical import CANONICAL
from likeness.avatar.topology import SURFACE_POINTS, topology

CYLINDER_AXIS = 1.3  # iris distances behind the eyes
MARGIN = 0.02
STRIP_TOP, SQUARE = 0.80, 0.18


@dataclass(frozen=True)
class Square:
    """A square region of the atlas: top-left corner and side, in texture fractions."""

    left: float
    top: float
    side: float = SQUARE

    @property
    def centre(self) -> tuple[float, float]:
        return self.left + self.side / 2, self.top + self.side / 2

    def pixels(self, size: int) -> tuple[int, int, int]:
        """Column, row and side in texels of a ``size`` texture."""
        return round(self.left * size), round(self.top * size), round(self.side * size)


LEFT_EYE = Square(0.02, STRIP_TOP)
RIGHT_EYE = Square(0.22, STRIP_TOP)
MOUTH = Square(0.42, STRIP_TOP)


@cache
def face_uv() -> NDArray[np.float64]:
    """(468, 2) texture coordinates (u right, v down, in [0, 1]) of the surface points."""
    p = CANONICAL[:SURFACE_POINTS]
    arc = CYLINDER_AXIS * np.arctan2(p[:, 0], p[:, 2] + CYLINDER_AXIS)
    down = -p[:, 1]
    scale = (1.0 - 2 * MARGIN) / (2 * np.abs(arc).max())
    uv = np.stack([0.5 + arc * scale, MARGIN + (down - down.min()) * scale], axis=1)
    if uv[:, 1].max() > STRIP_TOP - 0.01:
        raise AssertionError("the face island runs into the strip below it")  # a layout bug, not user input
    uv.setflags(write=False)
    return uv


@dataclass(frozen=True, eq=False)
class TexelMap:
    """Which surface triangle covers each texel of the face island, and where in it.

    ``triangle``: (size, size) int32, -1 off the island; ``weights``: (size, size, 3) float32
    barycentric weights of the triangle's corners.
    """

    triangle: NDArray[np.int32]
    weights: NDArray[np.float32]

    @property
    def island(self) -> NDArray[np.bool_]:
        return self.triangle >= 0

    def interpolate(self, values: NDArray[np.float64]) -> NDArray[np.float32]:
        """Per-point ``values`` (468, k) spread over the island texels, (n_island, k)."""
        t = topology().triangles[self.triangle[self.island]]
        w = self.weights[self.island]
        v = np.asarray(values, np.float32)
        return w[:, 0:1] * v[t[:, 0]] + w[:, 1:2] * v[t[:, 1]] + w[:, 2:3] * v[t[:, 2]]


@cache
def texel_map(size: int) -> TexelMap:
    """Rasterise the fixed layout at ``size`` texels (built once per size; read-only)."""
    triangles = topology().triangles
    corners = face_uv()[triangles] * size - 0.5  # texel centres sit at integer positions
    index = np.full((size, size), -1, np.int32)
    shift = 4
    for i, tri in enumerate(np.round(corners * (1 << shift)).astype(np.int32)):
        cv2.fillConvexPoly(index, tri, int(i), lineType=cv2.LINE_8, shift=shift)
    rows, cols = np.nonzero(index >= 0)
    tri = corners[index[rows, cols]]  # (n, 3, 2)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    p = np.stack([cols, rows], axis=1).astype(np.float64)
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-12, 1e-12, den)
    wb = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    wc = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    bary = np.clip(np.stack([1 - wb - wc, wb, wc], axis=1), 0.0, 1.0)
    bary /= bary.sum(1, keepdims=True)
    weights = np.zeros((size, size, 3), np.float32)
    weights[rows, cols] = bary
    index.setflags(write=False)
    weights.setflags(write=False)
    return TexelMap(index, weights)
