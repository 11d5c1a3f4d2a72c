"""The inside of the mouth: a closed bag behind the lips, so an open mouth shows a dark cavity, not the back of the head.

The bag (an ``avatar.pockets`` pocket) hangs from the inner lip rim: a copy of the rim, two
rings of ellipses further in and a back point. The rings do not follow the lips' own shape
(closed lips are a flat line) but the mouth's width; each is kept ``CLEARANCE_M`` behind the
face surface, so the bag never shows through the skin. A morph target that moves the lips
moves the bag with them, less the deeper a ring lies (``FOLLOW``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from likeness.avatar.pockets import Pocket, pocket
from likeness.avatar.topology import SURFACE_POINTS, UPPER_LIP_MIDDLE, Topology
from likeness.avatar.uv import Square
from likeness.faces.types import Image

# (half-width as a share of the rim's, half-height in metres, depth behind the rim in metres)
RINGS = ((0.95, 0.008, 0.010), (0.8, 0.014, 0.022))
BACK_DEPTH_M = 0.032
CLEARANCE_M = 0.003
FOLLOW = (1.0, 0.8, 0.5, 0.3)  # share of the lips' motion the rim copy, the rings and the back point take
RADIUS = (1.0, 0.7, 0.4, 0.0)  # where each lies in the mouth square (1 = its inscribed circle)


def _angles(shape: NDArray[np.float64], rim: tuple[int, ...]) -> NDArray[np.float64]:
    """Each rim point's angle round the mouth: 0 at the corner to the subject's left, pi/2 at the upper lip."""
    points = shape[list(rim)]
    middle = (points[:, 0].max() + points[:, 0].min()) / 2
    half = max(np.ptp(points[:, 0]) / 2, 1e-6)
    x = np.clip((points[:, 0] - middle) / half, -1, 1)
    return np.where(_upper_chain(rim), np.arccos(x), -np.arccos(x))


def _upper_chain(rim: tuple[int, ...]) -> NDArray[np.bool_]:
    """Which rim points belong to the upper lip: the chain from one mouth corner to the other
    (the rim's extremes on the canonical face) that holds the upper lip's middle point."""
    from likeness.avatar.canonical import CANONICAL

    n = len(rim)
    x = CANONICAL[list(rim), 0]
    a, b = int(np.argmin(x)), int(np.argmax(x))
    forward = [(a + k) % n for k in range((b - a) % n + 1)]
    chain = forward if rim.index(UPPER_LIP_MIDDLE) in forward else [(b + k) % n for k in range((a - b) % n + 1)]
    mask = np.zeros(n, bool)
    mask[chain] = True
    return mask


def _surface_depth(shape: NDArray[np.float64], at: NDArray[np.float64]) -> NDArray[np.float64]:
    """The face surface's Z near each (X, Y) of ``at``: the nearest surface points' lowest Z (a conservative guess)."""
    surface = shape[:SURFACE_POINTS]
    d = np.linalg.norm(surface[None, :, :2] - at[:, None, :2], axis=2)
    near = np.argsort(d, axis=1)[:, :4]
    return surface[near, 2].min(axis=1)


def cavity(shape: NDArray[np.float64], topo: Topology, square: Square) -> Pocket:
    """The bag behind the inner lip rim of a fitted ``shape`` (metres); its vertices follow the surface's."""
    rim = topo.lips
    n = len(rim)
    lips = shape[list(rim)]
    centre = lips.mean(0)
    half_width = np.ptp(lips[:, 0]) / 2
    angle = _angles(shape, rim)
    layers = [lips]
    for width_share, half_height, depth in RINGS:
        ring = np.stack([centre[0] + width_share * half_width * np.cos(angle),
                         centre[1] + half_height * np.sin(angle),
                         np.full(n, centre[2] - depth)], axis=1)
        ring[:, 2] = np.minimum(ring[:, 2], _surface_depth(shape, ring) - CLEARANCE_M)
        layers.append(ring)
    apex = np.array([centre[0], centre[1], min(centre[2] - BACK_DEPTH_M, layers[-1][:, 2].min() - 0.004)])
    u0, v0 = square.centre
    half = square.side / 2 * 0.98
    uv_layers = [np.stack([u0 + r * half * np.cos(angle), v0 - r * half * np.sin(angle)], axis=1) for r in RADIUS[:-1]]
    return pocket(rim, layers, apex, uv_layers=uv_layers, uv_apex=np.array([u0, v0]), follow=FOLLOW, base=SURFACE_POINTS,
                  seen_from=centre + np.array([0.0, 0.0, 0.05]))


def paint_mouth(texture: Image, square: Square, lip: NDArray[np.float32]) -> None:
    """Draw the mouth square in place: the inner lip's colour at its edge, darkening to near black at the back."""
    size = texture.shape[0]
    left, top, side = square.pixels(size)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    half = side / 2 * 0.98
    r = np.clip(np.hypot(xx + 0.5 - side / 2, yy + 0.5 - side / 2) / half, 0, 1)[..., None]
    inner = np.array([0.32, 0.1, 0.11])
    back = np.array([0.06, 0.02, 0.025])
    edge = np.asarray(lip, np.float64) * 0.8
    colour = np.where(r > 0.7, inner + (edge - inner) * ((r - 0.7) / 0.3) ** 2, back + (inner - back) * (r / 0.7))
    texture[top:top + side, left:left + side] = np.clip(colour * 255 + 0.5, 0, 255).astype(np.uint8)
