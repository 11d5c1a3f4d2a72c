"""Eyeballs behind the eye openings, placed and sized from the iris landmarks, with the crops' own irises.

Each eye is a sphere of ``EYEBALL_RADIUS_M`` (an adult eyeball is about 24 mm across) whose
front pole carries the iris: its centre sits behind the iris centre so that the iris ring
(radius from the five iris landmarks) lies on the sphere, then further back if a lid point
would otherwise sit inside the ball (the lids stay in front of it, also when they close). It is
its own node, centred on the ball, so a game can turn it to look somewhere.

The iris is unwrapped from the crops that show that eye open and nearly frontal, in polar
coordinates round the iris centre; the part a lid hides in a crop is taken from the other crops,
and what no crop shows from the same radius at the angles that are seen (an iris is much alike
all round). The white is the median colour of what the crops show of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.avatar.fit import eye_aperture
from likeness.avatar.pockets import Pocket, pocket
from likeness.avatar.topology import LEFT_IRIS_CENTRE, LEFT_IRIS_RING, RIGHT_IRIS_CENTRE, RIGHT_IRIS_RING, Topology
from likeness.avatar.uv import Square
from likeness.faces.types import FacesetItem, Image

EYEBALL_RADIUS_M = 0.012
IRIS_RADIUS_M = (0.0045, 0.0075)  # the measured iris radius is kept within these
LID_CLEARANCE_M = 0.0008  # lid points stay at least this far outside the ball
OPEN_EYE = 0.7  # eye aperture (1 relaxed open) from which a crop's iris is used
FRONTAL_YAW = 25.0
RADII, ANGLES = 48, 96  # polar samples of an iris
WHITE = np.array([0.84, 0.8, 0.77])  # the white of an eye in an evenly lit photo
WHITE_LEAST = 0.6  # a measured white darker than this is pulled toward WHITE
SOCKET_DEPTH_M = 0.007  # the socket runs straight back this far from the lid rim, then closes at the ball's centre
SOCKET = np.array([0.42, 0.26, 0.26])  # its colour: the pink of the inner lids, in shadow
LATITUDES, LONGITUDES = 14, 24


@dataclass(frozen=True, eq=False)
class Eyeball:
    """One eye: sphere vertices round its centre (node frame), their UVs and triangles."""

    side: str
    centre: NDArray[np.float64]  # (3,) in the face's frame, metres
    iris_radius: float
    positions: NDArray[np.float64]
    uv: NDArray[np.float64]
    triangles: NDArray[np.int32]


def _iris(shape: NDArray[np.float64], side: str) -> tuple[NDArray[np.float64], float]:
    centre_index, ring = (LEFT_IRIS_CENTRE, LEFT_IRIS_RING) if side == "left" else (RIGHT_IRIS_CENTRE, RIGHT_IRIS_RING)
    centre = shape[centre_index]
    radius = float(np.mean(np.linalg.norm(shape[list(ring)] - centre, axis=1)))
    return centre, float(np.clip(radius, *IRIS_RADIUS_M))


def eyeball(shape: NDArray[np.float64], topo: Topology, side: str, square: Square) -> Eyeball:
    """The eyeball of the subject's ``side`` eye of a fitted ``shape`` (metres), textured from ``square``."""
    iris, radius = _iris(shape, side)
    forward = np.array([0.0, 0.0, 1.0])
    centre = iris - forward * np.sqrt(EYEBALL_RADIUS_M**2 - radius**2)
    rim = shape[list(topo.left_eye if side == "left" else topo.right_eye)]
    # Move the ball back until every lid point is outside it.
    for _ in range(40):
        if np.min(np.linalg.norm(rim - centre, axis=1)) >= EYEBALL_RADIUS_M + LID_CLEARANCE_M:
            break
        centre = centre - forward * 0.0005
    lat = np.linspace(0, np.pi, LATITUDES + 1)  # 0 at the front pole
    lon = np.linspace(0, 2 * np.pi, LONGITUDES, endpoint=False)
    rings = [np.array([[0.0, 0.0, EYEBALL_RADIUS_M]])]
    for a in lat[1:-1]:
        rings.append(np.stack([np.sin(a) * np.cos(lon), np.sin(a) * np.sin(lon), np.full_like(lon, np.cos(a))], axis=1) * EYEBALL_RADIUS_M)
    rings.append(np.array([[0.0, 0.0, -EYEBALL_RADIUS_M]]))
    positions = np.concatenate(rings)
    triangles = []
    n = LONGITUDES
    for k in range(n):  # front cap
        triangles.append((0, 1 + k, 1 + (k + 1) % n))
    for r in range(LATITUDES - 2):
        a, b = 1 + r * n, 1 + (r + 1) * n
        for k in range(n):
            k1 = (k + 1) % n
            triangles += [(a + k, b + k, b + k1), (a + k, b + k1, a + k1)]
    last, back = 1 + (LATITUDES - 2) * n, len(positions) - 1
    for k in range(n):
        triangles.append((last + k, back, last + (k + 1) % n))
    u0, v0 = square.centre
    half = square.side / 2 * 0.98
    uv = np.stack([u0 + positions[:, 0] / EYEBALL_RADIUS_M * half, v0 - positions[:, 1] / EYEBALL_RADIUS_M * half], axis=1)
    return Eyeball(side, centre, radius, positions, uv, _outward(positions, np.array(triangles, np.int32)))


def socket(shape: NDArray[np.float64], topo: Topology, ball: Eyeball, square: Square, base: int) -> Pocket:
    """The socket round one eyeball: a short tube from the lid rim straight back, closed at the ball's centre.

    It closes every line of sight past the ball (the outer corner at 45 degrees); the ball hides
    most of it. It moves with the lids (a blink), the deeper ring half as much.
    """
    rim = topo.left_eye if ball.side == "left" else topo.right_eye
    lids = shape[list(rim)]
    back = lids - np.array([0.0, 0.0, SOCKET_DEPTH_M])
    corner = np.array([square.left + 0.04 * square.side, square.top + 0.04 * square.side])
    spread = 0.02 * square.side * np.stack([np.cos(np.arange(len(rim))), np.sin(np.arange(len(rim)))], axis=1)
    return pocket(rim, [lids, back], ball.centre, uv_layers=[corner + spread, corner + spread * 0.5], uv_apex=corner,
                  follow=(1.0, 0.5, 0.0), base=base, seen_from=ball.centre + np.array([0.0, 0.0, 0.05]))


def _outward(positions: NDArray[np.float64], triangles: NDArray[np.int32]) -> NDArray[np.int32]:
    """Triangles wound so their normals point out of the ball."""
    p = positions
    normals = np.cross(p[triangles[:, 1]] - p[triangles[:, 0]], p[triangles[:, 2]] - p[triangles[:, 0]])
    outward = np.einsum("ij,ij->i", normals, p[triangles].mean(axis=1)) >= 0
    return np.where(outward[:, None], triangles, triangles[:, ::-1]).astype(np.int32)


@dataclass(frozen=True, eq=False)
class EyeColours:
    """What the crops show of one eye: the iris in polar samples (RADII x ANGLES x 3, 0..1) and the white."""

    iris: NDArray[np.float32]
    sclera: NDArray[np.float32]  # (3,)
    seen: float  # share of the polar samples some crop showed
    crops: int


def eye_colours(items: Sequence[FacesetItem], topo: Topology, side: str) -> EyeColours | None:
    """The iris and white of the subject's ``side`` eye from every crop that shows it open; None if none does."""
    centre_index, ring = (LEFT_IRIS_CENTRE, LEFT_IRIS_RING) if side == "left" else (RIGHT_IRIS_CENTRE, RIGHT_IRIS_RING)
    rim = list(topo.left_eye if side == "left" else topo.right_eye)
    total = np.zeros((RADII, ANGLES, 3), np.float64)
    weight = np.zeros((RADII, ANGLES), np.float64)
    whites: list[NDArray[np.float64]] = []
    used = 0
    radius_steps = (np.arange(RADII) + 0.5) / RADII
    angle_steps = np.arange(ANGLES) * 2 * np.pi / ANGLES
    for item in items:
        if eye_aperture(item.landmarks, side) < OPEN_EYE or abs(item.pose.yaw) > FRONTAL_YAW:
            continue
        points = np.asarray(item.landmarks, np.float64)
        centre = points[centre_index, :2]
        radius = float(np.mean(np.linalg.norm(points[list(ring), :2] - centre, axis=1)))
        if radius < 2.0:
            continue
        opening = np.zeros(item.image.shape[:2], np.uint8)
        cv2.fillPoly(opening, [np.round(points[rim, :2] * 16).astype(np.int32)], 1, shift=4)
        xs = centre[0] + radius * radius_steps[:, None] * np.cos(angle_steps)[None, :]
        ys = centre[1] + radius * radius_steps[:, None] * np.sin(angle_steps)[None, :]
        colours = cv2.remap(item.image, xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR).astype(np.float64) / 255
        inside = cv2.remap(opening, xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_NEAREST) > 0
        total += colours * inside[..., None]
        weight += inside
        rows, cols = np.nonzero(opening)
        white = (cols - centre[0]) ** 2 + (rows - centre[1]) ** 2 > (1.15 * radius) ** 2
        if white.sum() >= 8:
            pixels = item.image[rows[white], cols[white]].astype(np.float64) / 255
            bright = pixels.mean(1) >= np.percentile(pixels.mean(1), 60)  # lashes and lid shadow are the darker part
            whites.append(np.median(pixels[bright], axis=0))
        used += 1
    if used == 0 or not weight.any():
        return None
    iris = total / np.maximum(weight, 1e-9)[..., None]
    seen = weight > 0
    for r in range(RADII):
        if not seen[r].any():  # a radius no crop shows: the nearest radius that is shown
            nearest = np.argmin(np.where(seen.any(axis=1), np.abs(np.arange(RADII) - r), RADII))
            iris[r] = np.median(iris[nearest][seen[nearest]], axis=0)
        else:
            iris[r][~seen[r]] = np.median(iris[r][seen[r]], axis=0)
    sclera = np.median(np.stack(whites), axis=0) if whites else WHITE
    lightness = float(sclera.mean())
    if lightness < WHITE_LEAST:  # a squint or a shadow shows too little white to go by: lean on a plain white
        sclera = sclera + (WHITE - sclera) * (WHITE_LEAST - lightness) / max(WHITE_LEAST - 0.2, 1e-6)
    return EyeColours(iris.astype(np.float32), sclera.astype(np.float32), round(float(seen.mean()), 3), used)


def paint_eye(texture: Image, square: Square, colours: EyeColours, iris_share: float) -> None:
    """Draw one eye's square of the atlas: the unwrapped iris in a disc of ``iris_share`` (iris radius
    over eyeball radius) of the square's half side, the white round it, in place."""
    size = texture.shape[0]
    left, top, side = square.pixels(size)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    half = side / 2 * 0.98
    dx, dy = (xx + 0.5 - side / 2) / half, (yy + 0.5 - side / 2) / half  # the sphere's X/R and -Y/R
    rho = np.hypot(dx, dy) / iris_share  # 1 at the iris edge
    angle = np.mod(np.arctan2(dy, dx), 2 * np.pi)  # image rows grow down, as in the crops
    iris = cv2.remap(colours.iris, (angle / (2 * np.pi) * ANGLES - 0.5).astype(np.float32),
                     (np.clip(rho, 0, 1) * RADII - 0.5).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    limbus = np.clip((rho - 1.0) / 0.12, 0, 1)[..., None]  # a soft, slightly dark ring where the iris meets the white
    white = colours.sclera[None, None, :] * (1 - 0.25 * np.exp(-((rho - 1.0) / 0.08) ** 2))[..., None]
    out = (1 - limbus) * iris + limbus * white
    corner = (xx < 0.09 * side) & (yy < 0.09 * side)  # where the socket's vertices sit
    out[corner] = SOCKET
    texture[top:top + side, left:left + side] = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def iris_share(ball: Eyeball) -> float:
    """Iris radius over eyeball radius: the iris disc's size in the eye's square."""
    return ball.iris_radius / EYEBALL_RADIUS_M
