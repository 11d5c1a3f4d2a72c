"""Closed pockets behind the face's openings (the mouth, the eye sockets), so nothing shows through them.

A pocket hangs from a rim of the surface: a copy of the rim's points (same places, the
pocket's own texture coordinates), rings further in, and an apex that closes it. It moves with
its rim under a morph target, each layer by its share of the rim's motion (``follow``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, eq=False)
class Pocket:
    """Vertices (appended after ``base`` others), their UVs, triangles (indices past ``base``), and
    for each vertex the rim point it moves with (-1: the rim's mean) and its share of that motion."""

    positions: NDArray[np.float64]
    uv: NDArray[np.float64]
    triangles: NDArray[np.int32]
    follows: NDArray[np.int32]
    share: NDArray[np.float64]

    def moved(self, offsets: NDArray[np.float64]) -> NDArray[np.float64]:
        """The pocket's vertex offsets under a morph target that moves the surface by ``offsets``."""
        rim = self.follows[self.follows >= 0]
        mean = offsets[rim].mean(0) if len(rim) else np.zeros(3)
        picked = np.where(self.follows[:, None] >= 0, offsets[np.maximum(self.follows, 0)], mean)
        return picked * self.share[:, None]


def pocket(
    rim: Sequence[int],
    layers: Sequence[NDArray[np.float64]],
    apex: NDArray[np.float64],
    *,
    uv_layers: Sequence[NDArray[np.float64]],
    uv_apex: NDArray[np.float64],
    follow: Sequence[float],
    base: int,
    seen_from: NDArray[np.float64],
) -> Pocket:
    """A pocket of ``layers`` (each (n, 3), the first the rim's copy) closed at ``apex``.

    ``follow`` holds one share per layer and one for the apex; triangles are wound to face
    ``seen_from`` (a point inside the opening, in front of the pocket), where they are looked at from.
    """
    n = len(rim)
    positions = np.concatenate([*layers, apex[None, :]])
    triangles = []
    for layer in range(len(layers) - 1):
        a, b = base + layer * n, base + (layer + 1) * n
        for k in range(n):
            k1 = (k + 1) % n
            triangles += [(a + k, b + k, b + k1), (a + k, b + k1, a + k1)]
    last, tip = base + (len(layers) - 1) * n, base + len(layers) * n
    triangles += [(last + k, tip, last + (k + 1) % n) for k in range(n)]
    t = np.array(triangles, np.int32) - base
    p = positions
    normals = np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]])
    toward = np.einsum("ij,ij->i", normals, seen_from - p[t].mean(axis=1)) >= 0
    t = np.where(toward[:, None], t, t[:, ::-1]) + base
    follows = np.concatenate([np.array(rim, np.int32)] * len(layers) + [np.array([-1], np.int32)])
    share = np.concatenate([np.full(n, follow[i]) for i in range(len(layers))] + [np.array([follow[-1]])])
    uv = np.concatenate([*uv_layers, uv_apex[None, :]])
    return Pocket(positions, uv, t.astype(np.int32), follows, share)
