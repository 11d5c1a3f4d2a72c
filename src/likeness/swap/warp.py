"""Piecewise-affine warping over a triangle list, vectorised: one raster pass, one remap per source.

The triangles are rasterised once into a map of triangle ids, in the order given (far to near,
so a nearer triangle covers a farther one and nothing folds); each source then needs only its
per-triangle affine matrices and a single ``cv2.remap``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

_SHIFT = 4  # sub-pixel bits for the rasteriser


@dataclass(frozen=True)
class Raster:
    """Which triangle covers each pixel of a (h, w) canvas; -1 where none."""

    ids: NDArray[np.int32]  # (h, w)
    pixels: NDArray[np.intp]  # flat indices of covered pixels
    xy: NDArray[np.float32]  # (n, 3) homogeneous coordinates of those pixels
    owner: NDArray[np.int32]  # (n,) triangle id of each covered pixel


def rasterise(points: NDArray[np.float32], triangles: NDArray[np.int32],
              shape: tuple[int, int]) -> Raster:
    """Draw ``triangles`` of ``points`` (x, y) in order into an id map of ``shape``."""
    ids = np.full(shape, -1, np.int32)
    fixed = np.round(np.asarray(points)[:, :2] * (1 << _SHIFT)).astype(np.int32)
    corners = fixed[triangles]
    for i, tri in enumerate(corners):
        cv2.fillConvexPoly(ids, tri, int(i), lineType=cv2.LINE_8, shift=_SHIFT)
    flat = ids.ravel()
    pixels = np.flatnonzero(flat >= 0)
    ys, xs = np.divmod(pixels, shape[1])
    xy = np.stack([xs, ys, np.ones_like(xs)], axis=1).astype(np.float32)
    return Raster(ids, pixels, xy, flat[pixels])


def affines(dst: NDArray[np.float32], src: NDArray[np.float32],
            triangles: NDArray[np.int32]) -> NDArray[np.float32]:
    """(T, 2, 3) matrices mapping each destination triangle onto its source triangle."""
    d = np.asarray(dst, np.float64)[triangles][..., :2]  # (T, 3, 2)
    s = np.asarray(src, np.float64)[triangles][..., :2]
    # Closed-form inverse of each [[x0 x1 x2], [y0 y1 y2], [1 1 1]] (batched linalg is slow here).
    x0, y0 = d[:, 0, 0], d[:, 0, 1]
    x1, y1 = d[:, 1, 0], d[:, 1, 1]
    x2, y2 = d[:, 2, 0], d[:, 2, 1]
    det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    ok = np.abs(det) > 1e-6
    det = np.where(ok, det, 1.0)
    # Barycentric weights as affine functions of (x, y): rows = vertices, columns = (x, y, 1).
    bary = np.stack([
        np.stack([y1 - y2, x2 - x1, x1 * y2 - x2 * y1], 1),
        np.stack([y2 - y0, x0 - x2, x2 * y0 - x0 * y2], 1),
        np.stack([y0 - y1, x1 - x0, x0 * y1 - x1 * y0], 1),
    ], 1) / det[:, None, None]  # (T, 3, 3)
    out = np.einsum("tvc,tvk->tck", s, bary)  # (T, 2, 3)
    out[~ok] = [[1, 0, 0], [0, 1, 0]]  # degenerate (zero-area) triangles cover no pixel anyway
    return out.astype(np.float32)


def maps(raster: Raster, matrices: NDArray[np.float32],
         shape: tuple[int, int], select: NDArray[np.bool_] | None = None
         ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``cv2.remap`` maps: for covered pixels the source position, elsewhere -1 (outside).

    ``select`` (per triangle) limits the maps to some triangles.
    """
    map_x = np.full(shape[0] * shape[1], -1.0, np.float32)
    map_y = np.full(shape[0] * shape[1], -1.0, np.float32)
    owner, xy, pixels = raster.owner, raster.xy, raster.pixels
    if select is not None:
        keep = select[owner]
        owner, xy, pixels = owner[keep], xy[keep], pixels[keep]
    a = matrices[owner]  # (n, 2, 3)
    map_x[pixels] = np.einsum("nk,nk->n", a[:, 0, :], xy)
    map_y[pixels] = np.einsum("nk,nk->n", a[:, 1, :], xy)
    return map_x.reshape(shape), map_y.reshape(shape)


def remap(image: NDArray, map_x: NDArray[np.float32], map_y: NDArray[np.float32]) -> NDArray:
    """Sample ``image`` at the maps (bilinear; outside the image gives black)."""
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0)


def shrink(image: NDArray, size: tuple[int, int]) -> NDArray:
    """``image`` resampled down to ``size`` (w, h), like ``cv2.resize(..., INTER_AREA)`` but fast.

    Exact 2x2 box halvings while the image is at least twice the size (cheap, no aliasing),
    then one bilinear step mapping pixel centres as ``cv2.resize`` does: INTER_AREA at a
    fractional factor costs ten times more.
    """
    w, h = size
    full_h, full_w = image.shape[:2]
    factor = 1
    while image.shape[1] >= 4 * w and image.shape[0] >= 4 * h:
        even = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]
        image = cv2.resize(even, (even.shape[1] // 2, even.shape[0] // 2), interpolation=cv2.INTER_AREA)
        factor *= 2
    if factor == 1 and image.shape[1] >= 2 * w and image.shape[0] >= 2 * h:
        even = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]
        image = cv2.resize(even, (even.shape[1] // 2, even.shape[0] // 2), interpolation=cv2.INTER_AREA)
        factor = 2
    # Output pixel u sits at frame x = (u + 0.5) * full_w / w - 0.5, i.e. at that / factor in the halved image.
    ax, ay = full_w / (w * factor), full_h / (h * factor)
    matrix = np.array([[ax, 0, 0.5 * ax - 0.5], [0, ay, 0.5 * ay - 0.5]], np.float64)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
