"""The ``retrieval`` engine: the identity's own crops, chosen by pose and expression, warped
onto the target's dense mesh. CPU only, real time, no training.

Per face: fit the identity's canonical shape to the target, reshape the target's points toward
it (``shape_strength``), pick the ``k`` crops nearest in facing direction and expression, warp
each over mediapipe's tessellation (far to near), average them, and decide per interior (mouth,
each eye) whether the source has a matching state or the target's own must stay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.errors import InputError
from likeness.faces import occlusion
from likeness.faces.types import Face, Image
from likeness.swap import blend as blending
from likeness.swap import mesh, shape, visibility, warp
from likeness.swap.engine import Patch, WorkCrop, register_engine

OUTER = 1.22  # outer ring of the reshaped band, relative to the face oval around its centre
_LEVELS_MARGIN = 24  # spare pixels round the band inside the crop, for feathering and blending
WORK_SIZE = 256  # default largest face side (px) the warp and the composite work at (288 gave the same swap_quality distances, ~8 % slower)
MIN_WORK_SIZE = 128  # ... and the least, whatever the faceset's detail
CANDIDATES = 6  # crops considered per face; each region then takes the k of them that see it best
LEAVE_BELOW = 0.7  # a face the faceset covers less than this is left as it was: a third of a face stretched or faded is worse than none
OCCLUDER_CHECK_EVERY = 3  # a tracked face with no glasses, hair or hand over it is looked at again every this many frames
FILLED = 20  # weight (of 255) of a crop's painted-over pixels against another crop's own skin
MAX_STRETCH = 2.5  # a crop whose view of a triangle is this many times more oblique than the target's lends it nothing


@dataclass(frozen=True, eq=False)
class _Crop:
    image: Image
    points: NDArray[np.float32]  # (481, 3) with hole centres
    facing: NDArray[np.float64]
    expression: NDArray[np.float64]
    extent: float  # the face's largest side (px) at the detail it really has (the photo's, if smaller)
    keep: NDArray[np.uint8] | None = None  # 255 where nothing covered the face (faces.occlusion.source_occluders)
    hull: NDArray[np.uint8] | None = None  # 255 inside its face's landmark hull (visibility.hull_mask)
    cos: NDArray[np.float64] | None = None  # per inner triangle: how squarely the crop shows it
    unhidden: NDArray[np.float64] | None = None  # per inner triangle: share not behind the nose etc.


@dataclass(frozen=True)
class _Triangles:
    """The static triangle lists, built once per engine instead of once per frame."""

    band: NDArray[np.int32]  # the ring between the face oval and the fixed outer ring
    inner: NDArray[np.int32]  # skin, mouth fan, right eye fan, left eye fan, concatenated
    group: NDArray[np.int8]  # 0 skin, 1 mouth, 2 right eye, 3 left eye, per inner triangle
    rims: tuple[NDArray[np.int32], ...]  # per fan (mouth, right eye, left eye): the skin triangles on its loop


def _rim_facing(tris: _Triangles, cos: NDArray[np.float64]) -> NDArray[np.float64]:
    """``cos`` with each mouth and eye fan facing as its rim of lip or lid does. A fan's own
    normal means nothing: a closed mouth's inner-lip loop is folded flat, so its triangles'
    orientation is noise, and an open mouth seen squarely would be judged edge-on or hidden."""
    out = np.array(cos, np.float64, copy=True)
    for g, rim in enumerate(tris.rims, start=1):
        if len(rim):
            out[tris.group == g] = float(np.mean(cos[rim]))
    return out


def _triangles() -> _Triangles:
    topo = mesh.topology()
    oval = mesh.FACE_OVAL
    n = len(oval)
    band = np.array([tri for i in range(n) for tri in (
        (oval[i], oval[(i + 1) % n], mesh.N_POINTS + i),
        (oval[(i + 1) % n], mesh.N_POINTS + (i + 1) % n, mesh.N_POINTS + i))], np.int32)
    parts = [topo.skin, topo.mouth, topo.right_eye, topo.left_eye]
    group = np.concatenate([np.full(len(t), g, np.int8) for g, t in enumerate(parts)])
    skin = np.asarray(topo.skin)
    rims = tuple(np.flatnonzero(np.isin(skin, loop).sum(1) >= 2).astype(np.int32)
                 for loop in (mesh.LIPS_INNER, mesh.RIGHT_EYE, mesh.LEFT_EYE))
    return _Triangles(band, np.concatenate(parts).astype(np.int32), group, rims)


def work_scale(face_size: float, work_size: int | None) -> float:
    """Working pixels per frame pixel: 1, or less so that the face's largest side is ``work_size``."""
    if not work_size or face_size <= work_size:
        return 1.0
    return float(work_size) / float(face_size)


class RetrievalEngine:
    """Nearest-crop, dense-mesh face swap; see the module docstring.

    ``work_size`` bounds the face's largest side (px) in the working crop: a bigger face is
    warped, colour-matched and blended at that size, or at the faceset's own detail when that is
    smaller (that bound never under ``MIN_WORK_SIZE``), and the result upsampled; ``None`` works
    at full size.
    """

    name = "retrieval"

    def __init__(self, *, k: int = 3, shape_strength: float = 1.0, pose_weight: float = 4.0,
                 erode: float = 0.05, feather: float = 0.03,
                 work_size: int | None = WORK_SIZE, hands: bool = True, leave_below: float = LEAVE_BELOW) -> None:
        if work_size is not None and int(work_size) < 64:
            raise InputError(f"work_size {work_size}: use 64 px or more (or None for full size)")
        self.k = k
        self.shape_strength = shape_strength
        self.pose_weight = pose_weight
        self.erode = erode
        self.feather = feather
        self.work_size = None if work_size is None else int(work_size)
        self._work_size = self.work_size  # bounded by the faceset's detail in prepare()
        self._crops: tuple[_Crop, ...] = ()
        self._facings = np.zeros((0, 3))
        self._expressions = np.zeros((0, 5))
        self._canonical: NDArray[np.float32] | None = None
        self._tris = _triangles()
        self.hands = hands
        self.leave_below = float(leave_below)
        self._hand_finder: occlusion.HandFinder | None = None  # loaded on the first face, once per engine
        self._looked: dict[tuple[int, str], tuple[bool, int]] = {}  # (track, occluder kind): seen last time, frames since

    def prepare(self, faceset: Any) -> None:
        """Index the crops by facing direction and expression; learn the canonical shape, and
        what each crop shows of every triangle (``visibility``)."""
        items = [item for item in getattr(faceset, "items", ()) if item.landmarks is not None]
        if not items:
            raise InputError("the faceset holds no crops with landmarks; enrol at least one photo")
        lms = [np.asarray(item.landmarks, np.float32)[:478, :3] for item in items]
        self._canonical = shape.canonical_shape(lms)
        # Corners ordered outward once, on the identity's own shape: normals then mean the same in every view.
        self._tris = replace(self._tris, inner=visibility.orient(mesh.with_centres(self._canonical), self._tris.inner))
        self._looked.clear()  # track ids start again with every render
        crops = []
        oval = list(mesh.FACE_OVAL)
        for item, lm in zip(items, lms):
            fit = shape.fit_similarity(self._canonical, lm)
            extent = float(np.ptp(lm[oval, :2], axis=0).max())
            # A crop aligned from a small face was enlarged: its detail is the photo's face width.
            photo_width = float(getattr(getattr(item, "quality", None), "size", 0.0) or 0.0)
            crop_width = float(np.ptp(lm[:, 0]))
            if 0 < photo_width < crop_width:
                extent *= photo_width / crop_width
            image, keep = _source_clean(np.ascontiguousarray(item.image), lm)
            points = mesh.with_centres(lm)
            crops.append(_Crop(image, points, shape.facing(fit), shape.expression(lm), extent, keep,
                               visibility.hull_mask(lm, image.shape[:2]),
                               _rim_facing(self._tris, visibility.facing_camera(points, self._tris.inner)),
                               visibility.unhidden(points, self._tris.inner)))
        self._crops = tuple(crops)
        # Working above the faceset's own detail buys nothing: bound it there too (that bound
        # not below MIN_WORK_SIZE, where the mask's feather and the blend's pyramid get coarse).
        detail = int(np.ceil(max(c.extent for c in crops) / 16.0)) * 16
        self._work_size = None if self.work_size is None else min(self.work_size, max(MIN_WORK_SIZE, detail))
        self._facings = np.stack([c.facing for c in crops])
        self._expressions = np.stack([c.expression for c in crops])

    def close(self) -> None:
        """Release the hand model (a native graph that garbage collection does not free).
        The engine can still swap afterwards: the model loads again when next needed."""
        if self._hand_finder is not None:
            self._hand_finder.close()
            self._hand_finder = None

    def __enter__(self) -> "RetrievalEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def repaint(self, paint) -> None:
        """Apply ``paint(image, landmarks) -> image`` to every prepared crop's texture (after
        the occluders were judged): for measuring where a swap's pixels come from."""
        self._crops = tuple(replace(c, image=np.ascontiguousarray(paint(c.image, c.points[:478])))
                            for c in self._crops)

    def nearest(self, target: NDArray[np.float32], fit: shape.Similarity | None = None,
                expression: NDArray[np.float64] | None = None, k: int | None = None
                ) -> tuple[list[int], NDArray[np.float64]]:
        """Indices and weights (summing to 1) of the ``k`` crops closest to the target's pose and
        expression. ``fit`` (canonical shape onto the target) and ``expression`` may be passed."""
        if self._canonical is None:
            raise InputError("the retrieval engine was not prepared with a faceset")
        fit = fit or shape.fit_similarity(self._canonical, target)
        t_facing = shape.facing(fit)
        t_expr = shape.expression(target) if expression is None else expression
        cost = (self.pose_weight * ((self._facings - t_facing) ** 2).sum(1) / 0.01
                + (((self._expressions - t_expr) / shape.EXPRESSION_SCALE) ** 2).sum(1))
        order = np.argsort(cost)[: k or self.k]
        weights = 1.0 / (cost[order] + 1.0)
        return order.tolist(), weights / weights.sum()

    def swap(self, frame: Image, face: Face) -> Patch:
        """Warp the crops that see each region onto ``face``; the patch covers the face and its
        reshaped band. Where no crop sees a region, the target's own skin shows through."""
        target = np.asarray(face.landmarks, np.float32)[:478, :3]
        if self._canonical is None:
            raise InputError("the retrieval engine was not prepared with a faceset")
        fit = shape.fit_similarity(self._canonical, target)
        expression = shape.expression(target)
        candidates, base = self.nearest(target, fit, expression, k=max(self.k, CANDIDATES))
        reshaped = shape.reshape(target, self._canonical, self.shape_strength, fit=fit)

        # Outer ring of the band: fixed points, so the reshaped surroundings meet the frame.
        oval = list(mesh.FACE_OVAL)
        centre = target[oval, :2].mean(0)
        ring = centre + OUTER * (target[oval, :2] - centre)

        h, w = frame.shape[:2]
        x0, y0 = np.floor(ring.min(0)).astype(int) - _LEVELS_MARGIN
        x1, y1 = np.ceil(ring.max(0)).astype(int) + _LEVELS_MARGIN
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            raise InputError(f"face at {face.box} lies outside the frame")
        crop = frame[y0:y1, x0:x1]
        face_size = float(np.ptp(target[oval, :2], axis=0).max())
        scale = work_scale(face_size, self._work_size)
        if scale < 1.0:
            size = (max(8, round((y1 - y0) * scale)), max(8, round((x1 - x0) * scale)))
            work = warp.shrink(crop, (size[1], size[0]))
        else:
            size, work = (y1 - y0, x1 - x0), crop
        sx, sy = size[1] / (x1 - x0), size[0] / (y1 - y0)
        # Frame pixel centres to working pixel centres (cv2.resize's half-pixel convention).
        to_work = np.array([sx, sy, sx], np.float32)
        shift = np.array([(0.5 - x0) * sx - 0.5, (0.5 - y0) * sy - 0.5, 0.0], np.float32)

        t_pts = mesh.with_centres(target) * to_work + shift
        q_pts = mesh.with_centres(reshaped) * to_work + shift
        ring_w = ring * to_work[:2] + shift[:2]
        ring_pts = np.concatenate([ring_w, np.zeros((len(ring_w), 1))], 1).astype(np.float32)
        t_ext = np.concatenate([t_pts, ring_pts])
        q_ext = np.concatenate([q_pts, ring_pts])

        tris = self._tris
        depth = t_pts[tris.inner, 2].mean(1)
        order = np.argsort(-depth, kind="stable")  # far first, near drawn over it
        all_tris = np.concatenate([tris.band, tris.inner[order]])
        raster = warp.rasterise(q_ext, all_tris, size)
        # What of each triangle the target shows (the nose hides some), read off the raster.
        drawn = np.bincount(raster.owner, minlength=len(all_tris))[len(tris.band):]
        t_unhidden = np.empty(len(order))
        t_unhidden[order] = visibility.shown_share(drawn, visibility.projected_area(q_ext, tris.inner[order]))
        weights, coverage, keep_mouth, keep_eyes = self._choose(t_pts, t_unhidden, expression, candidates, base)
        reach = _pose_reach(t_pts, tris.inner[tris.group == 0], coverage[tris.group == 0])
        if reach < self.leave_below:
            nothing = np.zeros(crop.shape[:2], np.float32)
            return Patch(crop.copy(), nothing, int(x0), int(y0), None, nothing.astype(bool), coverage=reach)
        own_by_group = np.array([False, keep_mouth, keep_eyes[0], keep_eyes[1]])
        own = np.concatenate([np.ones(len(tris.band), bool), own_by_group[tris.group[order]]])
        # Backdrop: the target itself reshaped to the new outline (and interiors kept).
        bx, by = warp.maps(raster, warp.affines(q_ext, t_ext, all_tris), size)
        reshaped_target = warp.remap(work, bx, by)
        covered = raster.ids >= 0
        backdrop = np.where(covered[..., None], reshaped_target, work)

        # Per pixel, the triangle it lies in (ids are shifted by one: -1 -> 0, the band -> its rows).
        pad = np.zeros(len(tris.band) + 1, np.float32)
        tri_of = raster.ids + 1
        sigma = max(0.015 * face_size * scale, 1.0)  # soften the per-triangle choice into seamless regions
        texture = np.zeros((*size, 3), np.float32)
        total = np.zeros(size, np.float32)  # how much the crops cover each pixel
        weight = np.zeros(size, np.float32)  # ... the same, the painted-over pixels counting little
        for c, index in enumerate(candidates):
            if not weights[c].any():
                continue
            src = self._crops[index]
            src_ext = np.concatenate([src.points, ring_pts])
            mx, my = warp.maps(raster, warp.affines(q_ext, src_ext, all_tris), size, select=~own)
            share = cv2.GaussianBlur(np.concatenate([pad, weights[c][order]])[tri_of], (0, 0), sigma)
            # Never from beyond the source face's hull; what covered it (hair, glasses) only
            # where no other crop has the skin there.
            share *= cv2.remap(src.hull, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0).astype(np.float32) * np.float32(1 / 255)
            if src.keep is not None:
                keep = cv2.remap(src.keep, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=255).astype(np.float32) * np.float32(1 / 255)
                total += share * np.minimum(keep * (255 / FILLED), 1.0)  # painted-over skin still covers
                share = share * keep
            else:
                total += share
            warped = warp.remap(src.image, mx, my).astype(np.float32)
            texture += warped * share[..., None]
            weight += share
        from_source = np.concatenate([[False], ~own])
        source_px = from_source[tri_of] & (total > 1e-3)
        texture = np.clip(texture / np.maximum(weight, 1e-6)[..., None] + 0.5, 0, 255).astype(np.uint8)
        image = np.where(source_px[..., None], texture, backdrop)
        # How much of the source the pixel may show: its crops' agreement, and how squarely they saw it.
        seen = cv2.GaussianBlur(np.concatenate([pad, coverage[order]])[tri_of], (0, 0), sigma) * np.minimum(total, 1.0)
        fade = np.clip((seen - 0.25) / 0.5, 0.0, 1.0)

        mask = self._mask(q_pts, size, source_px, keep_mouth, keep_eyes, fade)
        # Found where they are in the output: on the backdrop, reshaped with the face.
        mask *= self._in_front(backdrop, q_pts[:478], size, face_size * scale, face.track)
        # Where the composite may change pixels: the band, and the mask widened by the blend.
        spread = blending.reach(size)
        support = covered | (cv2.dilate((mask > 0).astype(np.uint8),
                                        np.ones((2 * spread + 1, 2 * spread + 1), np.uint8)) > 0)
        used = [candidates[c] for c in range(len(candidates)) if weights[c].any()] or candidates[:1]
        detail = min(face_size * scale, min(self._crops[i].extent for i in used))
        upscale = max(1.0, face_size / max(detail, 1.0))
        if scale == 1.0:
            return Patch(image, mask, int(x0), int(y0), backdrop, support, upscale=upscale, coverage=reach)
        return _upsampled(crop, Patch(image, mask, int(x0), int(y0), backdrop, support), bx, by,
                          covered, (sx, sy), upscale, reach)

    def _due(self, track: int | None, kind: str) -> bool:
        """Whether to look for ``kind`` (glasses, hair, hands) over this face now: always on a
        still (no track) and while the last look found one, else every ``OCCLUDER_CHECK_EVERY``-th
        frame of the track: a pair of glasses or a hand that appears is kept in front within a
        few frames, at a third of the cost of looking every frame."""
        if track is None:
            return True
        seen, count = self._looked.get((track, kind), (False, 0))
        self._looked[(track, kind)] = (seen, count + 1)
        return seen or count % OCCLUDER_CHECK_EVERY == 0

    def _saw(self, track: int | None, kind: str, found: occlusion.Occluders) -> None:
        if track is not None:
            self._looked[(track, kind)] = (not found.empty, self._looked[(track, kind)][1])

    def _in_front(self, image: Image, points: NDArray[np.float32], size: tuple[int, int], extent: float,
                  track: int | None = None) -> NDArray[np.float32]:
        """1 where the swap may show, 0 over what covers the target's face (its glasses frames,
        a hand, hair over the forehead): those stay in front of the new face. Looked for at the
        working size in ``image``, the target reshaped as the output will be (``points``: its
        landmarks there), so a 700 px face costs what a 256 px one does."""
        kinds = [k for k in occlusion.OCCLUDER_KINDS if (k != "hands" or self.hands) and self._due(track, k)]
        if "hands" in kinds and self._hand_finder is None:
            self._hand_finder = occlusion.HandFinder()
        parts = occlusion.occluder_parts(image, points, kinds, hands=self._hand_finder)
        for kind, part in parts.items():
            self._saw(track, kind, part)
        found = occlusion.union(*parts.values())
        if found.empty:
            return np.ones(size, np.float32)
        cover = found.full(*size)
        cover = cv2.GaussianBlur(cover.astype(np.float32) * np.float32(1 / 255), (0, 0), max(0.006 * extent, 0.7))
        return np.clip(1.0 - 1.5 * cover, 0.0, 1.0)

    def _choose(self, t_pts, t_unhidden, t_expr, candidates, base):
        """Per candidate crop and inner triangle, its weight in the texture; per triangle, how well
        the best crop shows it (1: as squarely as the target needs); and whether the target keeps
        its own mouth and eyes (no crop has the same state).

        A crop lends a triangle only when it shows it nearly as squarely as the target does (a
        texture stretched more than ``MAX_STRETCH`` times is not used) and the nose does not hide it.
        """
        tris = self._tris
        t_cos = _rim_facing(tris, visibility.facing_camera(t_pts, tris.inner))
        # What the target itself hides or shows edge-on needs no good view: any crop will do there.
        shown = (np.clip((t_cos - 0.05) / 0.15, 0.0, 1.0)
                 * np.clip((t_unhidden - 0.3) / 0.4, 0.0, 1.0))
        quality = np.zeros((len(candidates), len(tris.inner)), np.float32)
        for c, index in enumerate(candidates):
            src = self._crops[index]
            stretch = np.maximum(t_cos, visibility.EDGE_ON) / np.maximum(src.cos, 1e-3)
            q = np.clip((MAX_STRETCH - stretch) / (MAX_STRETCH - 1.5), 0.0, 1.0)
            q *= (src.cos > 0.08) & (src.unhidden > 0.5)
            q *= np.clip(src.unhidden * 1.25, 0.0, 1.0)
            quality[c] = shown * q + (1.0 - shown) * (src.cos > 0.0)
        mouth, eyes = self._interiors(t_expr, candidates)
        groups = tris.group
        allow = np.ones_like(quality, bool)
        allow[:, groups == 1] = mouth[:, None]
        allow[:, groups == 2] = eyes[:, 0:1]
        allow[:, groups == 3] = eyes[:, 1:2]
        quality *= allow
        weights = np.asarray(base, np.float32)[:, None] * quality
        if len(candidates) > self.k:  # per triangle, only the k best crops: more would ghost
            cut = -np.sort(-weights, axis=0)[self.k - 1]
            weights = np.where(weights >= cut[None, :], weights, 0.0)
        sums = weights.sum(0)
        weights = np.where(sums > 0, weights / np.maximum(sums, 1e-9), 0.0).astype(np.float32)
        coverage = quality.max(0)
        keep_mouth = not mouth.any()
        keep_eyes = (not eyes[:, 0].any(), not eyes[:, 1].any())
        return weights, coverage, bool(keep_mouth), keep_eyes

    def _interiors(self, t, candidates) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Which candidate crops may lend the inside of the mouth, and of each eye: only one in
        the target's state (open or closed, and the same smile when teeth show); never a
        smile's teeth in other lips, never open eyes on a blink."""
        e = self._expressions[candidates]
        open_t = t[0] > 0.15
        mouth = (np.abs(e[:, 0] - t[0]) <= 0.12) & ((e[:, 0] > 0.15) == open_t)
        if open_t:
            mouth &= (np.abs(e[:, 4] - t[4]) <= 0.06) & (np.abs(e[:, 3] - t[3]) <= 0.12)
        # Eyes: a smile's narrowing (aperture within 0.2) still takes the source's eyes; a blink does not.
        eyes = np.stack([(np.abs(e[:, j] - t[j]) <= 0.2) & ((e[:, j] < 0.12) == (t[j] < 0.12))
                         for j in (1, 2)], 1)
        return mouth, eyes

    def _mask(self, q_pts, size, source_px, keep_mouth, keep_eyes, fade) -> NDArray[np.float32]:
        """Face oval, shrunk off the hairline and the jaw, minus kept interiors, times ``fade``
        (how well the faceset covers each pixel), feathered."""
        oval = q_pts[list(mesh.FACE_OVAL), :2]
        centre = oval.mean(0)
        extent = float(np.ptp(oval[:, 0]))
        rel_y = (oval[:, 1] - centre[1]) / max(float(np.ptp(oval[:, 1])), 1.0)
        # More off the hairline (top) and the jaw shadow (bottom) than off the cheeks.
        shrink = self.erode * (1.0 + 1.2 * np.clip(-rel_y * 2, 0, 1) + 0.5 * np.clip(rel_y * 2, 0, 1))
        poly = centre + (oval - centre) * (1 - shrink)[:, None]
        hard = np.zeros(size, np.uint8)
        cv2.fillPoly(hard, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        # A turned head's nose and lips stand out past its oval: they are face too.
        for loop in (mesh.NOSE, mesh.LIPS_OUTER):
            hull = cv2.convexHull(np.round(q_pts[list(loop), :2] * 16).astype(np.int32))
            cv2.fillConvexPoly(hard, hull, 255, cv2.LINE_AA, shift=4)
        hard[~source_px] = 0
        holes = [(keep_mouth, mesh.LIPS_INNER)] + list(zip(keep_eyes, (mesh.RIGHT_EYE, mesh.LEFT_EYE)))
        for keep, loop in holes:
            if keep:
                pts = np.round(q_pts[list(loop), :2] * 16).astype(np.int32)
                cv2.fillPoly(hard, [pts], 0, cv2.LINE_AA, shift=4)
                cv2.polylines(hard, [pts], True, 0, max(1, int(extent * 0.01)), cv2.LINE_AA, shift=4)
        sigma = max(self.feather * extent, 1.0)
        soft = hard.astype(np.float32) * np.float32(1 / 255) * fade.astype(np.float32)
        if sigma < 4:
            return cv2.GaussianBlur(soft, (0, 0), sigma)
        # A wide feather is as smooth at half size (within 0.003), at a tenth of the time.
        h, w = soft.shape
        half = cv2.resize(soft, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
        return cv2.resize(cv2.GaussianBlur(half, (0, 0), sigma / 2), (w, h), interpolation=cv2.INTER_LINEAR)


def _source_clean(image: Image, landmarks: NDArray[np.float32]) -> tuple[Image, NDArray[np.uint8] | None]:
    """What a faceset crop may lend, given what covered its face at enrolment.

    Returns the crop with those painted over from the skin around them, and a weight map:
    255 where the crop shows its own face, ``FILLED`` where hair or spectacle frames were painted
    over (another crop's real skin wins there; with none, the fill beats a ghost of the frames).
    """
    pts = np.asarray(landmarks, np.float32)[:478]
    h, w = image.shape[:2]
    extent = float(np.ptp(pts[:, 0]))
    radius = max(3.0, 0.01 * extent)
    # The fill draws on pixels within its radius: near the face's edge those would be backdrop,
    # so there the covered pixels are left out instead of painted.
    inner = visibility.hull_mask(pts, (h, w), inset=0.01 + 2.5 * radius / max(extent, 1.0))
    parts = occlusion.occluder_parts(image, pts, ("glasses", "hair"))
    frames, strands = parts["glasses"], parts["hair"]
    if strands.empty and frames.empty:
        return image, None
    cover = (strands.full(h, w) > 0).astype(np.uint8)
    if not frames.empty:
        grow = int(round(0.008 * extent)) * 2 + 1
        cover |= cv2.dilate((frames.full(h, w) > 0).astype(np.uint8),
                            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    paint = cover & (inner > 0)
    image = cv2.inpaint(np.ascontiguousarray(image), paint, radius, cv2.INPAINT_TELEA)
    keep = np.full((h, w), 255, np.uint8)
    keep[cover > 0] = 0
    keep[paint > 0] = FILLED
    return image, keep


def _pose_reach(t_pts: NDArray[np.float32], triangles: NDArray[np.int32],
                coverage: NDArray[np.float32]) -> float:
    """Share (by area in the target) of the target's visible skin that some crop covers."""
    v = t_pts[triangles, :2]
    area = 0.5 * ((v[:, 1, 0] - v[:, 0, 0]) * (v[:, 2, 1] - v[:, 0, 1])
                  - (v[:, 2, 0] - v[:, 0, 0]) * (v[:, 1, 1] - v[:, 0, 1]))
    area = np.abs(area) * (visibility.facing_camera(t_pts, triangles) > 0.1)
    total = float(area.sum())
    return 1.0 if total <= 0 else float((area * np.clip(coverage, 0.0, 1.0)).sum() / total)


def _upsampled(crop: Image, small: Patch, bx, by, covered, scale: tuple[float, float],
               upscale: float, coverage: float = 1.0) -> Patch:
    """The full-size patch of a working-size one; the working one rides along as ``work``, and
    the full-size image and mask are left for :class:`Patch` to upsample if anyone reads them.

    The backdrop is not upsampled (that would blur the target's hair and jaw round the face):
    the band's displacement field is, and the full-size crop is warped with it.
    """
    h, w = crop.shape[:2]
    sh, sw = small.mask.shape
    sx, sy = scale
    # Where each working pixel takes its backdrop from (itself outside the band), in frame
    # pixels of the crop: piecewise affine, so linear upsampling is all but exact.
    gx = np.arange(sw, dtype=np.float32)[None, :]
    gy = np.arange(sh, dtype=np.float32)[:, None]
    source = np.empty((sh, sw, 2), np.float32)
    source[..., 0] = (np.where(covered, bx, gx) + 0.5) * (1.0 / sx) - 0.5
    source[..., 1] = (np.where(covered, by, gy) + 0.5) * (1.0 / sy) - 0.5
    support = cv2.resize(cv2.dilate(small.support.astype(np.uint8), np.ones((3, 3), np.uint8)),
                         (w, h), interpolation=cv2.INTER_NEAREST)
    # Only the support's box is warped; the rest of the crop is the frame's own.
    x0, y0, bw, bh = cv2.boundingRect(support)
    backdrop = crop.copy()
    if bw:
        full_map = cv2.resize(source, (w, h), interpolation=cv2.INTER_LINEAR)[y0:y0 + bh, x0:x0 + bw]
        warped = cv2.remap(crop, full_map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        cv2.copyTo(warped, support[y0:y0 + bh, x0:x0 + bw], backdrop[y0:y0 + bh, x0:x0 + bw])
    support = support.view(bool)
    work = WorkCrop(small.image, small.mask, small.backdrop, (float(sx), float(sy)))
    return Patch(None, None, small.x, small.y, backdrop, support, work, upscale, coverage)


register_engine("retrieval", RetrievalEngine)
