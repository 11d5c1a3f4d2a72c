"""The face texture, baked from the crops into the fixed layout of ``avatar.uv``.

For every texel of the face island and every crop: where the texel's surface point lies in
the crop (the crop's own mesh, interpolated), how squarely the crop sees it (the cosine between
the crop's surface normal there and its line of sight, raised to ``FACING_POWER`` so the most
direct views dominate), whether the nose or a cheek hides it in that crop (a depth buffer of
the crop's mesh), and whether glasses or hair cover it there (``faces.occlusion``). Only mesh
triangles turned to the camera are sampled, and none within a millimetre of their outline,
so nothing of the background comes in.

Each crop's unwrapped colours are first matched to the most frontal crop's (mean and spread in
Lab over the texels both see), then all are blended band by band (a Laplacian pyramid per crop,
weighted by a Gaussian pyramid of its weights), so the seams between views are as wide as each
band and never a visible edge. A texel no crop sees squarely enough (``SEEN_COSINE``) is filled:
from its mirror texel when that one is seen (the layout is symmetric; relit to the seen side's
shading), else by a smooth fill
from the skin around it (an oblique view's colours there are as often ear, hair or background).
``Baked.filled`` is the share of the island so filled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.avatar.topology import SURFACE_POINTS, topology
from likeness.avatar.uv import TexelMap, texel_map
from likeness.faces.types import FacesetItem, Image

FACING_POWER = 4.0
SEEN_COSINE = 0.25  # about 75 degrees: a texel seen only more obliquely than this is filled instead
DEPTH_TOLERANCE = 0.03  # of the crop's iris distance: a texel this far behind the surface in front is hidden
OCCLUDER_GROW = 5  # pixels the glasses and hair masks are widened by
SILHOUETTE = 0.02  # iris distances along the visible face's outline that are not sampled (about 1 mm: the sampler's reach)
EXPRESSIVE_WEIGHT = 0.3  # a smiling or talking crop counts this much against a neutral one
FEATHER = 12  # texels (at 1024) over which a filled region fades into the seen one
LIGHT_BLUR = 40.0  # texels (at 1024): the scale of shading a mirrored region takes from the seen side
MAX_RELIGHT = 1.8  # at most this much brighter or darker


@dataclass(frozen=True, eq=False)
class Baked:
    """The texture (RGB uint8, size x size), which texels were seen or filled, and their shares of the island."""

    image: Image
    seen: NDArray[np.bool_]
    mirrored: float  # share of the island filled from the mirror texel
    extrapolated: float  # share filled smoothly from its surroundings
    views: int  # crops that contributed

    @property
    def filled(self) -> float:
        return round(self.mirrored + self.extrapolated, 4)


@dataclass(frozen=True, eq=False)
class _View:
    colours: NDArray[np.float32]  # (n_island, 3) RGB 0..1
    facing: NDArray[np.float32]  # (n_island,) cosine, 0 where hidden, occluded or off the crop
    weight: float


def vertex_normals(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Area-weighted normals of the surface points (front faces wound counter-clockwise)."""
    t = topology().triangles
    p = np.asarray(points, np.float64)
    face = np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]])
    normals = np.zeros((len(p), 3))
    for k in range(3):
        np.add.at(normals, t[:, k], face)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _depth_buffer(points: NDArray[np.float64], shape: tuple[int, int]) -> NDArray[np.float32]:
    """Nearest surface depth (the crop's z, smaller is nearer) at every pixel; inf off the face."""
    t = topology().triangles
    order = np.argsort(-points[t].mean(axis=1)[:, 2])  # far to near: the nearest is drawn last
    index = np.full(shape, -1, np.int32)
    shift = 4
    for i in order:
        cv2.fillConvexPoly(index, np.round(points[t[i], :2] * (1 << shift)).astype(np.int32), int(i), shift=shift)
    depth = np.full(shape, np.inf, np.float32)
    rows, cols = np.nonzero(index >= 0)
    tri = points[t[index[rows, cols]]]
    a, b, c = tri[:, 0, :2], tri[:, 1, :2], tri[:, 2, :2]
    p = np.stack([cols, rows], axis=1).astype(np.float64)
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-9, 1e-9, den)
    wb = np.clip((v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den, 0, 1)
    wc = np.clip((v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den, 0, 1)
    wa = np.clip(1 - wb - wc, 0, 1)
    depth[rows, cols] = wa * tri[:, 0, 2] + wb * tri[:, 1, 2] + wc * tri[:, 2, 2]
    return depth


def _face_core(points: NDArray[np.float64], shape: tuple[int, int], iod: float) -> NDArray[np.bool_]:
    """The crop's pixels well inside the face it shows: the triangles turned to the camera (and the
    eye and mouth openings), less a band of ``SILHOUETTE`` iris distances along their outline, where
    a mesh point a little off the real edge would pick up background, hair or an ear."""
    topo = topology()
    t = topo.triangles
    normals = np.cross(points[t[:, 1]] - points[t[:, 0]], points[t[:, 2]] - points[t[:, 0]])
    toward = -normals[:, 2] > 0.05 * np.linalg.norm(normals, axis=1)
    mask = np.zeros(shape, np.uint8)
    shift = 4
    for tri in np.round(points[t[toward], :2] * (1 << shift)).astype(np.int32):
        cv2.fillConvexPoly(mask, tri, 1, shift=shift)
    rims = [np.round(points[list(rim), :2] * (1 << shift)).astype(np.int32) for rim in (topo.lips, topo.left_eye, topo.right_eye)]
    cv2.fillPoly(mask, rims, 1, shift=shift)
    reach = max(1, round(SILHOUETTE * iod))
    return cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)) > 0


def _occluded(item: FacesetItem) -> NDArray[np.bool_]:
    """Glasses frames and hair over the crop's face, widened a little."""
    from likeness.faces.occlusion import source_occluders

    found, _ = source_occluders(item.image, item.landmarks)
    mask = found.full(*item.image.shape[:2])
    if not mask.any():
        return mask.astype(bool)
    size = 2 * OCCLUDER_GROW + 1
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))) > 0


def _view(item: FacesetItem, texels: TexelMap, weight: float) -> _View:
    """One crop's colours and facing at every island texel."""
    points = np.asarray(item.landmarks, np.float64)[:SURFACE_POINTS, :3]
    image = np.ascontiguousarray(item.image)
    height, width = image.shape[:2]
    where = texels.interpolate(points)  # (n, 3): x, y, z in crop pixels
    normal = texels.interpolate(vertex_normals(points))
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    facing = np.clip(-normal[:, 2], 0.0, 1.0)  # the camera looks along +z; a face turned to it has normal -z
    x, y = where[:, 0], where[:, 1]
    inside = (x >= 0) & (y >= 0) & (x <= width - 1) & (y <= height - 1)
    col, row = np.clip(np.round(x).astype(int), 0, width - 1), np.clip(np.round(y).astype(int), 0, height - 1)
    iod = float(np.linalg.norm(item.landmarks[468, :2] - item.landmarks[473, :2]))
    front = _depth_buffer(points, (height, width))[row, col]
    visible = where[:, 2] <= front + DEPTH_TOLERANCE * iod
    clear = ~_occluded(item)[row, col]
    core = _face_core(points, (height, width), iod)[row, col]
    facing = np.where(inside & visible & clear & core, facing, 0.0).astype(np.float32)
    map_x = np.full(texels.triangle.shape, -1.0, np.float32)
    map_y = map_x.copy()
    map_x[texels.island], map_y[texels.island] = x, y
    colours = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[texels.island]
    return _View(colours.astype(np.float32) / 255.0, facing, weight)


def _lab(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    return cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3)


def _rgb(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.clip(cv2.cvtColor(lab.reshape(-1, 1, 3).astype(np.float32), cv2.COLOR_LAB2RGB).reshape(-1, 3), 0, 1)


def _match_colours(views: list[_View]) -> list[_View]:
    """Every view's Lab mean and spread matched to the best view's, over the texels both see well."""
    best = max(range(len(views)), key=lambda i: float(views[i].facing.sum()) * views[i].weight)
    ref = views[best]
    ref_lab = _lab(ref.colours)
    matched = []
    for i, view in enumerate(views):
        both = (view.facing > 0.5) & (ref.facing > 0.5)
        if i == best or both.sum() < 200:
            matched.append(view)
            continue
        lab = _lab(view.colours)
        mu, sd = lab[both].mean(0), lab[both].std(0) + 1e-3
        mu_ref, sd_ref = ref_lab[both].mean(0), ref_lab[both].std(0) + 1e-3
        gain = np.clip(sd_ref / sd, 0.7, 1.4)
        matched.append(_View(_rgb((lab - mu) * gain + mu_ref), view.facing, view.weight))
    return matched


def push_pull(image: NDArray[np.float32], known: NDArray[np.bool_]) -> NDArray[np.float32]:
    """``image`` with its unknown texels filled smoothly from the known ones (a pyramid of averages)."""
    if known.all() or not known.any():
        return image
    weight = known.astype(np.float32)
    levels: list[tuple[NDArray[np.float32], NDArray[np.float32]]] = []
    colour = image * weight[..., None]
    while min(weight.shape) > 2:
        levels.append((colour, weight))
        h, w = weight.shape
        colour = cv2.resize(colour, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
        weight = cv2.resize(weight, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    filled = colour / np.maximum(weight, 1e-6)[..., None]
    for colour, weight in reversed(levels):
        h, w = weight.shape
        up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = np.clip(weight * 4, 0, 1)[..., None]  # a partly known texel leans on its own average
        filled = alpha * colour / np.maximum(weight, 1e-6)[..., None] + (1 - alpha) * up
    out = image.copy()
    out[~known] = filled[~known]
    return out


def _blend(views: list[_View], texels: TexelMap, size: int) -> NDArray[np.float32]:
    """Multi-band blend of the views' unwrapped colours over the island (size x size x 3, 0..1)."""
    island = texels.island
    levels = max(1, int(np.log2(size / 32)))
    total = [np.zeros(shape, np.float32) for shape in _pyramid_shapes(size, levels, 3)]
    weights = [np.zeros(shape, np.float32) for shape in _pyramid_shapes(size, levels, 0)]
    for view in views:
        w = np.zeros((size, size), np.float32)
        w[island] = view.weight * view.facing**FACING_POWER
        if not w.any():
            continue
        colour = np.zeros((size, size, 3), np.float32)
        colour[island] = view.colours
        colour = push_pull(colour, w > 0)  # sane bands where the view sees nothing
        gauss_w, lap = [w], []
        current = colour
        for _ in range(levels):
            down = cv2.pyrDown(current)
            lap.append(current - cv2.pyrUp(down, dstsize=current.shape[1::-1]))
            current = down
            gauss_w.append(cv2.pyrDown(gauss_w[-1]))
        lap.append(current)
        for level in range(levels + 1):
            total[level] += lap[level] * gauss_w[level][..., None]
            weights[level] += gauss_w[level]
    out = total[levels] / np.maximum(weights[levels], 1e-8)[..., None]
    for level in range(levels - 1, -1, -1):
        out = cv2.pyrUp(out, dstsize=total[level].shape[1::-1])
        out = out + total[level] / np.maximum(weights[level], 1e-8)[..., None]
    return np.clip(out, 0, 1)


def _pyramid_shapes(size: int, levels: int, channels: int) -> list[tuple[int, ...]]:
    shapes, side = [], size
    for _ in range(levels + 1):
        shapes.append((side, side, channels) if channels else (side, side))
        side = (side + 1) // 2
    return shapes


def _relit_mirror(blended: NDArray[np.float32], seen: NDArray[np.bool_], size: int) -> NDArray[np.float32]:
    """The texture mirrored, its shading taken from the seen side's: a face lit from one side would
    otherwise come back with a bright half and a dark half, and a bright band down the middle.

    The mirror keeps its features (brows, lips, beard); its broad shading (Gaussian over
    ``LIGHT_BLUR`` texels) is scaled to the smooth extension of the seen texels' own.
    """
    reach = LIGHT_BLUR * size / 1024
    mirror, mirror_seen = blended[:, ::-1], seen[:, ::-1]
    target = cv2.GaussianBlur(push_pull(blended, seen), (0, 0), reach)
    source = cv2.GaussianBlur(push_pull(np.ascontiguousarray(mirror), mirror_seen), (0, 0), reach)
    return np.clip(mirror * np.clip(target / np.maximum(source, 1e-3), 1 / MAX_RELIGHT, MAX_RELIGHT), 0, 1)


def bake(items: Sequence[FacesetItem], size: int, *, expressive: Sequence[int] = ()) -> Baked:
    """Bake the face island of a ``size`` texture from ``items`` (crops with their 478 landmarks).

    ``expressive``: indices of crops that smile or talk; they count less than the neutral ones.
    Texels off the island are filled smoothly from its edge (the atlas's other regions are
    painted by the caller).
    """
    texels = texel_map(size)
    island = texels.island
    views = []
    for i, item in enumerate(items):
        sharpness = item.quality.sharpness if item.quality is not None else 0.5
        weight = max(0.05, sharpness) * (EXPRESSIVE_WEIGHT if i in set(expressive) else 1.0)
        views.append(_view(item, texels, weight))
    views = _match_colours(views)
    blended = _blend(views, texels, size)
    best = np.zeros((size, size), np.float32)
    best[island] = np.max(np.stack([v.facing for v in views]), axis=0)
    seen = island & (best >= SEEN_COSINE)
    missing = island & ~seen
    mirrored = missing & seen[:, ::-1]
    extrapolated = missing & ~mirrored
    out = blended.copy()
    out[mirrored] = _relit_mirror(blended, seen, size)[mirrored]
    # Where a seen, a mirrored and a smoothly filled region meet, each fades over FEATHER texels
    # into a blurred copy, so no edge shows there (the eye and mouth openings are not such a
    # meeting: their rims stay sharp).
    reach = max(1.0, FEATHER * size / 1024)
    smooth = cv2.GaussianBlur(push_pull(out, seen | mirrored), (0, 0), reach)
    alpha = np.zeros((size, size), np.float32)
    for region in (seen, mirrored):
        inside = cv2.distanceTransform((region | ~island).astype(np.uint8), cv2.DIST_L2, 5)
        alpha[region] = np.clip(inside[region] / reach, 0, 1)
    alpha = alpha[..., None]
    out = push_pull((alpha * out + (1 - alpha) * smooth).astype(np.float32), island)  # and the gutter round the island
    n = max(1, int(island.sum()))
    return Baked(
        image=np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8),
        seen=seen,
        mirrored=round(float(mirrored.sum()) / n, 4),
        extrapolated=round(float(extrapolated.sum()) / n, 4),
        views=sum(1 for v in views if v.facing.any()),
    )
