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
from likeness.swap import mesh, shape, warp
from likeness.swap.engine import Patch, register_engine

OUTER = 1.22  # outer ring of the reshaped band, relative to the face oval around its centre
_LEVELS_MARGIN = 24  # spare pixels round the band inside the crop, for feathering and blending


@dataclass(frozen=True, eq=False)
class _Crop:
    image: Image
    points: NDArray[np.float32]  # (481, 3) with hole centres
    facing: NDArray[np.float64]
    expression: NDArray[np.float64]


class RetrievalEngine:
    """Nearest-crop, dense-mesh face swap; see the module docstring."""

    name = "retrieval"

    def __init__(self, *, k: int = 3, shape_strength: float = 0.8, pose_weight: float = 4.0,
                 erode: float = 0.05, feather: float = 0.03) -> None:
        self.k = k
        self.shape_strength = shape_strength
        self.pose_weight = pose_weight
        self.erode = erode
        self.feather = feather
        self._crops: tuple[_Crop, ...] = ()
        self._canonical: NDArray[np.float32] | None = None

    def prepare(self, faceset: Any) -> None:
        """Index the crops by facing direction and expression; learn the canonical shape."""
        items = [item for item in getattr(faceset, "items", ()) if item.landmarks is not None]
        if not items:
            raise InputError("the faceset holds no crops with landmarks; enrol at least one photo")
        lms = [np.asarray(item.landmarks, np.float32)[:478, :3] for item in items]
        self._canonical = shape.canonical_shape(lms)
        crops = []
        for item, lm in zip(items, lms):
            fit = shape.fit_similarity(self._canonical, lm)
            crops.append(_Crop(np.ascontiguousarray(item.image), mesh.with_centres(lm),
                               shape.facing(fit), shape.expression(lm)))
        self._crops = tuple(crops)

    def nearest(self, target: NDArray[np.float32]) -> tuple[list[int], NDArray[np.float64]]:
        """Indices and weights (summing to 1) of the crops closest to the target's pose and expression."""
        if self._canonical is None:
            raise InputError("the retrieval engine was not prepared with a faceset")
        fit = shape.fit_similarity(self._canonical, target)
        t_facing, t_expr = shape.facing(fit), shape.expression(target)
        facings = np.stack([c.facing for c in self._crops])
        exprs = np.stack([c.expression for c in self._crops])
        cost = (self.pose_weight * ((facings - t_facing) ** 2).sum(1) / 0.01
                + (((exprs - t_expr) / shape.EXPRESSION_SCALE) ** 2).sum(1))
        order = np.argsort(cost)[: self.k]
        weights = 1.0 / (cost[order] + 1.0)
        return order.tolist(), weights / weights.sum()

    def swap(self, frame: Image, face: Face) -> Patch:
        """Warp the nearest crops onto ``face``; the patch covers the face and its reshaped band."""
        target = np.asarray(face.landmarks, np.float32)[:478, :3]
        chosen, weights = self.nearest(target)
        reshaped = shape.reshape(target, self._canonical, self.shape_strength)

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
        size = (y1 - y0, x1 - x0)
        offset = np.array([x0, y0, 0], np.float32)

        t_pts = mesh.with_centres(target) - offset
        q_pts = mesh.with_centres(reshaped) - offset
        ring_pts = np.concatenate([ring - offset[:2], np.zeros((len(ring), 1))], 1)
        t_ext = np.concatenate([t_pts, ring_pts]).astype(np.float32)
        q_ext = np.concatenate([q_pts, ring_pts]).astype(np.float32)

        topo = mesh.topology()
        keep_mouth, keep_eyes = self._keep_interiors(target, chosen, weights)
        n = len(oval)
        band = np.array([tri for i in range(n) for tri in (
            (oval[i], oval[(i + 1) % n], mesh.N_POINTS + i),
            (oval[(i + 1) % n], mesh.N_POINTS + (i + 1) % n, mesh.N_POINTS + i))], np.int32)
        inner = [topo.skin, topo.mouth, topo.right_eye, topo.left_eye]
        own_flags = [False, keep_mouth, keep_eyes[0], keep_eyes[1]]
        tris = np.concatenate(inner)
        own = np.concatenate([np.full(len(t), f) for t, f in zip(inner, own_flags)])
        depth = t_pts[tris, 2].mean(1)
        order = np.argsort(-depth, kind="stable")  # far first, near drawn over it
        tris, own = tris[order], own[order]
        all_tris = np.concatenate([band, tris])
        own = np.concatenate([np.ones(len(band), bool), own])

        raster = warp.rasterise(q_ext, all_tris, size)
        # Backdrop: the target itself reshaped to the new outline (and interiors kept).
        bx, by = warp.maps(raster, warp.affines(q_ext, t_ext, all_tris), size)
        reshaped_target = warp.remap(crop, bx, by)
        covered = raster.ids >= 0
        backdrop = np.where(covered[..., None], reshaped_target, crop)

        # Source texture: the chosen crops warped onto the same mesh, averaged.
        texture = None
        for index, weight in zip(chosen, weights):
            src = self._crops[index]
            src_ext = np.concatenate([src.points, ring_pts]).astype(np.float32)
            sx, sy = warp.maps(raster, warp.affines(q_ext, src_ext, all_tris), size,
                               select=~own)
            warped = warp.remap(src.image, sx, sy)
            if texture is None:
                texture, total = warped, float(weight)
            else:
                total += float(weight)
                texture = cv2.addWeighted(texture, 1 - weight / total, warped, weight / total, 0)
        from_source = np.concatenate([[False], ~own])  # ids are shifted by one: -1 -> 0
        source_px = from_source[raster.ids + 1]
        image = np.where(source_px[..., None], texture, backdrop)

        mask = self._mask(q_pts, size, source_px, keep_mouth, keep_eyes)
        # Where the composite may change pixels: the band, and the mask widened by the blend.
        spread = blending.reach(size)
        support = covered | (cv2.dilate((mask > 0).astype(np.uint8),
                                        np.ones((2 * spread + 1, 2 * spread + 1), np.uint8)) > 0)
        return Patch(image, mask, int(x0), int(y0), backdrop, support)

    def _keep_interiors(self, target, chosen, weights) -> tuple[bool, tuple[bool, bool]]:
        """Keep the target's mouth / eyes where the chosen crops' states do not match."""
        t = shape.expression(target)
        s = sum(w * self._crops[i].expression for i, w in zip(chosen, weights))
        mouth = abs(t[0] - s[0]) > 0.12 or (t[0] > 0.15) != (s[0] > 0.15)
        eyes = tuple(bool(abs(t[j] - s[j]) > 0.12 or (t[j] < 0.12) != (s[j] < 0.12))
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
        return cv2.GaussianBlur(hard.astype(np.float32) / 255.0, (0, 0), sigma)


register_engine("retrieval", RetrievalEngine)
