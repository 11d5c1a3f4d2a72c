"""The ``retrieval`` engine: the identity's own crops, chosen by pose and expression, warped
onto the target's dense mesh. CPU only, real time, no training.

Per face: fit the identity's canonical shape to the target, reshape the target's points toward
it (``shape_strength``), pick the ``k`` crops nearest in facing direction and expression, warp
each over mediapipe's tessellation (far to near), average them, and decide per interior (mouth,
each eye) whether the source has a matching state or the target's own must stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.errors import InputError
from likeness.faces.types import Face, Image
from likeness.swap import blend as blending
from likeness.swap import mesh, shape, skin, warp
from likeness.swap.engine import Patch, WorkCrop, register_engine

OUTER = 1.22  # outer ring of the reshaped band, relative to the face oval around its centre
_LEVELS_MARGIN = 24  # spare pixels round the band inside the crop, for feathering and blending
WORK_SIZE = 256  # default largest face side (px) the warp and the composite work at (288 gave the same swap_quality distances, ~8 % slower)
MIN_WORK_SIZE = 128  # ... and the least, whatever the faceset's detail


@dataclass(frozen=True, eq=False)
class _Crop:
    image: Image
    points: NDArray[np.float32]  # (481, 3) with hole centres
    facing: NDArray[np.float64]
    expression: NDArray[np.float64]
    extent: float  # the face's largest side (px) at the detail it really has (the photo's, if smaller)
    keep: NDArray[np.uint8] | None = None  # 255 where the crop is its face's skin (skin.skin_keep)


@dataclass(frozen=True)
class _Triangles:
    """The static triangle lists, built once per engine instead of once per frame."""

    band: NDArray[np.int32]  # the ring between the face oval and the fixed outer ring
    inner: NDArray[np.int32]  # skin, mouth fan, right eye fan, left eye fan, concatenated
    group: NDArray[np.int8]  # 0 skin, 1 mouth, 2 right eye, 3 left eye, per inner triangle


def _triangles() -> _Triangles:
    topo = mesh.topology()
    oval = mesh.FACE_OVAL
    n = len(oval)
    band = np.array([tri for i in range(n) for tri in (
        (oval[i], oval[(i + 1) % n], mesh.N_POINTS + i),
        (oval[(i + 1) % n], mesh.N_POINTS + (i + 1) % n, mesh.N_POINTS + i))], np.int32)
    parts = [topo.skin, topo.mouth, topo.right_eye, topo.left_eye]
    group = np.concatenate([np.full(len(t), g, np.int8) for g, t in enumerate(parts)])
    return _Triangles(band, np.concatenate(parts).astype(np.int32), group)


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
                 work_size: int | None = WORK_SIZE) -> None:
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

    def prepare(self, faceset: Any) -> None:
        """Index the crops by facing direction and expression; learn the canonical shape."""
        items = [item for item in getattr(faceset, "items", ()) if item.landmarks is not None]
        if not items:
            raise InputError("the faceset holds no crops with landmarks; enrol at least one photo")
        lms = [np.asarray(item.landmarks, np.float32)[:478, :3] for item in items]
        self._canonical = shape.canonical_shape(lms)
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
            crops.append(_Crop(np.ascontiguousarray(item.image), mesh.with_centres(lm),
                               shape.facing(fit), shape.expression(lm), extent,
                               skin.skin_keep(np.ascontiguousarray(item.image), lm)))
        self._crops = tuple(crops)
        # Working above the faceset's own detail buys nothing: bound it there too (that bound
        # not below MIN_WORK_SIZE, where the mask's feather and the blend's pyramid get coarse).
        detail = int(np.ceil(max(c.extent for c in crops) / 16.0)) * 16
        self._work_size = None if self.work_size is None else min(self.work_size, max(MIN_WORK_SIZE, detail))
        self._facings = np.stack([c.facing for c in crops])
        self._expressions = np.stack([c.expression for c in crops])

    def nearest(self, target: NDArray[np.float32], fit: shape.Similarity | None = None,
                expression: NDArray[np.float64] | None = None) -> tuple[list[int], NDArray[np.float64]]:
        """Indices and weights (summing to 1) of the crops closest to the target's pose and expression.

        ``fit`` (canonical shape onto the target) and ``expression`` may be passed when known.
        """
        if self._canonical is None:
            raise InputError("the retrieval engine was not prepared with a faceset")
        fit = fit or shape.fit_similarity(self._canonical, target)
        t_facing = shape.facing(fit)
        t_expr = shape.expression(target) if expression is None else expression
        cost = (self.pose_weight * ((self._facings - t_facing) ** 2).sum(1) / 0.01
                + (((self._expressions - t_expr) / shape.EXPRESSION_SCALE) ** 2).sum(1))
        order = np.argsort(cost)[: self.k]
        weights = 1.0 / (cost[order] + 1.0)
        return order.tolist(), weights / weights.sum()

    def swap(self, frame: Image, face: Face) -> Patch:
        """Warp the nearest crops onto ``face``; the patch covers the face and its reshaped band."""
        target = np.asarray(face.landmarks, np.float32)[:478, :3]
        if self._canonical is None:
            raise InputError("the retrieval engine was not prepared with a faceset")
        fit = shape.fit_similarity(self._canonical, target)
        expression = shape.expression(target)
        chosen, weights = self.nearest(target, fit, expression)
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

        keep_mouth, keep_eyes = self._keep_interiors(expression, chosen, weights)
        tris = self._tris
        own_by_group = np.array([False, keep_mouth, keep_eyes[0], keep_eyes[1]])
        depth = t_pts[tris.inner, 2].mean(1)
        order = np.argsort(-depth, kind="stable")  # far first, near drawn over it
        all_tris = np.concatenate([tris.band, tris.inner[order]])
        own = np.concatenate([np.ones(len(tris.band), bool), own_by_group[tris.group[order]]])

        raster = warp.rasterise(q_ext, all_tris, size)
        # Backdrop: the target itself reshaped to the new outline (and interiors kept).
        bx, by = warp.maps(raster, warp.affines(q_ext, t_ext, all_tris), size)
        reshaped_target = warp.remap(work, bx, by)
        covered = raster.ids >= 0
        backdrop = np.where(covered[..., None], reshaped_target, work)

        # Source texture: the chosen crops warped onto the same mesh, averaged.
        texture = None
        keep = None  # where the chosen crops are their own skin (hair over the forehead is not)
        total = 0.0
        for index, weight in zip(chosen, weights):
            src = self._crops[index]
            src_ext = np.concatenate([src.points, ring_pts])
            mx, my = warp.maps(raster, warp.affines(q_ext, src_ext, all_tris), size, select=~own)
            warped = warp.remap(src.image, mx, my)
            total += float(weight)
            texture = warped if texture is None else cv2.addWeighted(
                texture, 1 - weight / total, warped, weight / total, 0)
            if src.keep is not None:
                kw = cv2.remap(src.keep, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=255).astype(np.float32) * np.float32(weight / 255.0)
            else:
                kw = np.full(size, np.float32(weight), np.float32)
            keep = kw if keep is None else keep + kw
        from_source = np.concatenate([[False], ~own])  # ids are shifted by one: -1 -> 0
        source_px = from_source[raster.ids + 1]
        image = np.where(source_px[..., None], texture, backdrop)

        mask = self._mask(q_pts, size, source_px & (keep > 0.5 * total), keep_mouth, keep_eyes)
        # Where the composite may change pixels: the band, and the mask widened by the blend.
        spread = blending.reach(size)
        support = covered | (cv2.dilate((mask > 0).astype(np.uint8),
                                        np.ones((2 * spread + 1, 2 * spread + 1), np.uint8)) > 0)
        detail = min(face_size * scale, min(self._crops[i].extent for i in chosen))
        upscale = max(1.0, face_size / max(detail, 1.0))
        if scale == 1.0:
            return Patch(image, mask, int(x0), int(y0), backdrop, support, upscale=upscale)
        return _upsampled(crop, Patch(image, mask, int(x0), int(y0), backdrop, support), bx, by,
                          covered, (sx, sy), upscale)

    def _keep_interiors(self, t, chosen, weights) -> tuple[bool, tuple[bool, bool]]:
        """Keep the target's mouth / eyes where the chosen crops' states (``t``: the target's
        expression) do not match."""
        s = sum(w * self._crops[i].expression for i, w in zip(chosen, weights))
        mouth = abs(t[0] - s[0]) > 0.12 or (t[0] > 0.15) != (s[0] > 0.15)
        # Eyes: a smile's narrowing (aperture within 0.2) still takes the source's eyes; a blink does not.
        eyes = tuple(bool(abs(t[j] - s[j]) > 0.2 or (t[j] < 0.12) != (s[j] < 0.12))
                     for j in (1, 2))
        return bool(mouth), eyes

    def _mask(self, q_pts, size, source_px, keep_mouth, keep_eyes) -> NDArray[np.float32]:
        """Face oval, shrunk off the hairline and the jaw, minus kept interiors, feathered."""
        oval = q_pts[list(mesh.FACE_OVAL), :2]
        centre = oval.mean(0)
        extent = float(np.ptp(oval[:, 0]))
        rel_y = (oval[:, 1] - centre[1]) / max(float(np.ptp(oval[:, 1])), 1.0)
        # More off the hairline (top) and the jaw shadow (bottom) than off the cheeks.
        shrink = self.erode * (1.0 + 1.2 * np.clip(-rel_y * 2, 0, 1) + 0.5 * np.clip(rel_y * 2, 0, 1))
        poly = centre + (oval - centre) * (1 - shrink)[:, None]
        hard = np.zeros(size, np.uint8)
        cv2.fillPoly(hard, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        hard[~source_px] = 0
        holes = [(keep_mouth, mesh.LIPS_INNER)] + list(zip(keep_eyes, (mesh.RIGHT_EYE, mesh.LEFT_EYE)))
        for keep, loop in holes:
            if keep:
                pts = np.round(q_pts[list(loop), :2] * 16).astype(np.int32)
                cv2.fillPoly(hard, [pts], 0, cv2.LINE_AA, shift=4)
                cv2.polylines(hard, [pts], True, 0, max(1, int(extent * 0.01)), cv2.LINE_AA, shift=4)
        sigma = max(self.feather * extent, 1.0)
        soft = hard.astype(np.float32) * np.float32(1 / 255)
        if sigma < 4:
            return cv2.GaussianBlur(soft, (0, 0), sigma)
        # A wide feather is as smooth at half size (within 0.003), at a tenth of the time.
        h, w = soft.shape
        half = cv2.resize(soft, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
        return cv2.resize(cv2.GaussianBlur(half, (0, 0), sigma / 2), (w, h), interpolation=cv2.INTER_LINEAR)


def _upsampled(crop: Image, small: Patch, bx, by, covered, scale: tuple[float, float],
               upscale: float) -> Patch:
    """The full-size patch of a working-size one; the working one rides along as ``work``.

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
    image = cv2.resize(small.image, (w, h), interpolation=cv2.INTER_LINEAR)
    mask = cv2.resize(small.mask, (w, h), interpolation=cv2.INTER_LINEAR)
    work = WorkCrop(small.image, small.mask, small.backdrop, (float(sx), float(sy)))
    return Patch(image, mask, small.x, small.y, backdrop, support, work, upscale)


register_engine("retrieval", RetrievalEngine)
