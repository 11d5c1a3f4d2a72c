"""Topology of mediapipe's 478-point face mesh: triangles, contour loops and the extra vertices.

The mesh's own tessellation is used instead of a Delaunay triangulation of the source points:
Delaunay triangles built on one face fold over when the other face turns its head, the mesh's
triangles do not (``../shared/docs/swap-notes.md``). The tessellation leaves holes at the eyes
and the mouth; they are closed by fans around an extra centre vertex each, so that the interiors
can be taken from the source or kept from the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

# Contours as ordered loops (mediapipe indices).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81,
              80, 191)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39,
              40, 185)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 129, 358, 48, 278, 64, 294, 219, 439)
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

# Extra vertices appended after the 478 landmarks: the centres of the three holes.
MOUTH_CENTRE = 478
RIGHT_EYE_CENTRE = 479
LEFT_EYE_CENTRE = 480
N_POINTS = 481


@dataclass(frozen=True)
class Topology:
    """Triangles of the mesh, grouped by what fills them."""

    skin: NDArray[np.int32]  # (T, 3) tessellation triangles
    mouth: NDArray[np.int32]  # fan closing the inner-lip loop
    right_eye: NDArray[np.int32]  # fan closing the right eye loop
    left_eye: NDArray[np.int32]  # fan closing the left eye loop


def _fan(loop: tuple[int, ...], centre: int) -> NDArray[np.int32]:
    return np.array([(loop[i], loop[(i + 1) % len(loop)], centre) for i in range(len(loop))],
                    np.int32)


def _triangles_from_edges(edges: frozenset[tuple[int, int]]) -> NDArray[np.int32]:
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    triangles = set()
    for a, b in edges:
        for c in neighbours[a] & neighbours[b]:
            triangles.add(tuple(sorted((a, b, c))))
    holes = {tuple(sorted(t)) for loop in (LIPS_INNER, RIGHT_EYE, LEFT_EYE)
             for t in _fan(loop, -1)}
    return np.array(sorted(t for t in triangles if t not in holes), np.int32)


@cache
def topology() -> Topology:
    """The triangles, built once per process from mediapipe's edge list (read-only arrays)."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    topo = Topology(
        skin=_triangles_from_edges(frozenset(FACEMESH_TESSELATION)),
        mouth=_fan(LIPS_INNER, MOUTH_CENTRE),
        right_eye=_fan(RIGHT_EYE, RIGHT_EYE_CENTRE),
        left_eye=_fan(LEFT_EYE, LEFT_EYE_CENTRE),
    )
    for array in (topo.skin, topo.mouth, topo.right_eye, topo.left_eye):
        array.setflags(write=False)
    return topo


def with_centres(landmarks: NDArray[np.float32]) -> NDArray[np.float32]:
    """The 478 landmarks plus the centres of the mouth and eye holes (481, 3)."""
    points = np.asarray(landmarks, np.float32)[:, :3]
    if points.shape[0] < 478:
        raise ValueError(f"expected 478 mediapipe landmarks, got {points.shape[0]}")
    centres = np.stack([points[list(LIPS_INNER)].mean(0), points[list(RIGHT_EYE)].mean(0),
                        points[list(LEFT_EYE)].mean(0)])
    return np.concatenate([points[:478], centres]).astype(np.float32)
