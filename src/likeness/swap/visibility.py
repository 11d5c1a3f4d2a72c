"""Which mesh triangles a faceset crop really shows, and how squarely.

A crop can only lend texture to the triangles it sees: a triangle that faces away from its
camera, shows nearly edge-on, or sits behind the nose is stretched from a few pixels, or from
the backdrop beyond the cheek (``../shared/docs/swap-notes.md``). Every crop gets a per-triangle
``seen`` weight in [0, 1]; the engine takes each region of the target from the crops that see it,
and lets the target's own skin show where none does.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

EDGE_ON = 0.25  # cosine of the view angle (triangle normal to camera) below which a triangle is not used
SQUARE = 0.55  # ... and from which it counts fully
_RASTER = 160  # side (px) the occlusion test rasterises a crop at


def orient(points: NDArray[np.float32], triangles: NDArray[np.int32]) -> NDArray[np.int32]:
    """``triangles`` with their corners ordered so that every normal points out of the head.

    Orientation is judged once, on a reference shape: "out" is away from a centre placed behind
    the face along its least-variance axis (the depth of a face mesh), whatever the view.
    """
    p = np.asarray(points, np.float64)[:, :3]
    centre = p.mean(0)
    _, _, vt = np.linalg.svd(p - centre, full_matrices=False)
    axis = vt[2]
    if (p[1] - centre) @ axis < 0:  # landmark 1 is the nose tip: the face points that way
        axis = -axis
    spread = float(np.sqrt(((p - centre) ** 2).sum(1).mean()))
    behind = centre - 1.5 * spread * axis
    normals = _normals(p, triangles)
    outward = ((p[triangles].mean(1) - behind) * normals).sum(1) > 0
    out = np.array(triangles, np.int32, copy=True)
    out[~outward] = out[~outward][:, [0, 2, 1]]
    return out


def _normals(points: NDArray[np.float64], triangles: NDArray[np.int32]) -> NDArray[np.float64]:
    a, b, c = (points[triangles[:, i]] for i in range(3))
    n = np.cross(b - a, c - a)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)


def facing_camera(points: NDArray[np.float32], triangles: NDArray[np.int32]) -> NDArray[np.float64]:
    """Cosine between each (oriented) triangle's outward normal and the direction to the camera.

    mediapipe's z grows away from the camera, so the camera lies along -z.
    """
    return -_normals(np.asarray(points, np.float64)[:, :3], triangles)[:, 2]


def unhidden(points: NDArray[np.float32], triangles: NDArray[np.int32]) -> NDArray[np.float64]:
    """Share of each triangle's projected area not covered by nearer triangles (far first, near over)."""
    p = np.asarray(points, np.float64)
    lo, hi = p[:, :2].min(0), p[:, :2].max(0)
    scale = _RASTER / max(float((hi - lo).max()), 1.0)
    xy = (p[:, :2] - lo) * scale
    size = (int(np.ceil(xy[:, 1].max())) + 2, int(np.ceil(xy[:, 0].max())) + 2)
    order = np.argsort(-p[triangles, 2].mean(1), kind="stable")
    ids = np.full(size, -1, np.int32)
    fixed = np.round(xy * 16).astype(np.int32)
    area = np.zeros(len(triangles))
    for t in order:
        corners = fixed[triangles[t]]
        cv2.fillConvexPoly(ids, corners, int(t), lineType=cv2.LINE_8, shift=4)
        v = xy[triangles[t]]
        area[t] = 0.5 * abs((v[1, 0] - v[0, 0]) * (v[2, 1] - v[0, 1]) - (v[2, 0] - v[0, 0]) * (v[1, 1] - v[0, 1]))
    return shown_share(np.bincount(ids[ids >= 0], minlength=len(triangles)), area)


def shown_share(pixels: NDArray[np.int64], area: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per triangle, the share of its projected ``area`` whose ``pixels`` a painter's raster gave
    it. Slivers under a pixel are judged by their neighbours' fate: seen."""
    pixels = np.asarray(pixels, np.float64)
    return np.where(area < 1.0, 1.0, np.clip(pixels / np.maximum(area, 1e-9), 0.0, 1.0))


def projected_area(points: NDArray[np.float32], triangles: NDArray[np.int32]) -> NDArray[np.float64]:
    """Area (square pixels) of each triangle on the image plane."""
    v = np.asarray(points, np.float64)[triangles][..., :2]
    return 0.5 * np.abs((v[:, 1, 0] - v[:, 0, 0]) * (v[:, 2, 1] - v[:, 0, 1])
                        - (v[:, 2, 0] - v[:, 0, 0]) * (v[:, 1, 1] - v[:, 0, 1]))


def seen(points: NDArray[np.float32], triangles: NDArray[np.int32]) -> NDArray[np.float32]:
    """Per triangle, how well the view of ``points`` shows it: 0 hidden or edge-on .. 1 square on."""
    cos = facing_camera(points, triangles)
    square = np.clip((cos - EDGE_ON) / (SQUARE - EDGE_ON), 0.0, 1.0)
    return (square * np.clip(unhidden(points, triangles) * 1.25, 0.0, 1.0)).astype(np.float32)


def hull_mask(points: NDArray[np.float32], shape: tuple[int, int], inset: float = 0.01) -> NDArray[np.uint8]:
    """255 inside the convex hull of the face's landmarks in a crop (pulled in by ``inset`` of its
    width), 0 outside: no texture is ever taken from beyond it."""
    xy = np.asarray(points, np.float32)[:, :2]
    hull = cv2.convexHull(np.round(xy * 16).astype(np.int32))
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_8, shift=4)
    k = int(round(inset * float(np.ptp(xy[:, 0]))))
    if k >= 1:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return mask
