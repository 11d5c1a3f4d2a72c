"""Putting an engine's patch into the frame: colour, light, blend, and smoothing over time."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.errors import InputError
from likeness.faces.types import Image
from likeness.swap import blend as blending
from likeness.swap import colour as colours
from likeness.swap import warp
from likeness.swap.engine import Mask, Patch


@dataclass
class _TrackState:
    stats: colours.LabStats | None = None
    mask: Mask | None = None  # the last (smoothed) mask, at its own working scale
    origin: tuple[int, int] | None = None  # its crop's top-left corner in the frame
    scale: tuple[float, float] = (1.0, 1.0)  # its working pixels per frame pixel
    last: Patch | None = None
    last_time: float | None = None


@dataclass
class TemporalSmoother:
    """Per-track exponential moving averages of the colour statistics and the mask.

    The warp itself gets smoothed landmarks from ``likeness.faces.Tracker``; what is left to
    flicker is the colour transform (its statistics move with every mask edge pixel) and the
    mask's feathered edge. ``keep`` is the weight of the past (0 = no smoothing). The last good
    patch per track is kept, so a face lost for a few frames can hold its swap.
    """

    keep: float = 0.7
    _tracks: dict[int, _TrackState] = field(default_factory=dict, repr=False)

    def _state(self, track: int) -> _TrackState:
        return self._tracks.setdefault(track, _TrackState())

    def stats(self, track: int, current: colours.LabStats) -> colours.LabStats:
        state = self._state(track)
        state.stats = current if state.stats is None else state.stats.mix(current, self.keep)
        return state.stats

    def mask(self, track: int, patch: Patch) -> Mask:
        """The patch's mask (its working one, if it has one) averaged with the previous one,
        where both crops overlap; a previous mask at another working scale is resized first."""
        state = self._state(track)
        out, (sx, sy) = (patch.mask, (1.0, 1.0)) if patch.work is None else (patch.work.mask, patch.work.scale)
        if state.mask is not None and state.origin is not None:
            prev = state.mask
            if state.scale != (sx, sy):
                ph, pw = prev.shape
                size = (max(1, round(pw * sx / state.scale[0])), max(1, round(ph * sy / state.scale[1])))
                prev = cv2.resize(prev, size, interpolation=cv2.INTER_LINEAR)
            # The previous crop's corner in this patch's working pixels.
            px, py = round((state.origin[0] - patch.x) * sx), round((state.origin[1] - patch.y) * sy)
            h, w = out.shape
            ph, pw = prev.shape
            ox0, oy0 = max(0, px), max(0, py)
            ox1, oy1 = min(w, px + pw), min(h, py + ph)
            if ox1 > ox0 and oy1 > oy0:
                out = out.copy()
                cur = out[oy0:oy1, ox0:ox1]
                old = prev[oy0 - py:oy1 - py, ox0 - px:ox1 - px]
                # Only soften: never spread the mask past this frame's own support.
                cur[:] = np.where(cur > 0, self.keep * old + (1 - self.keep) * cur, cur)
        state.mask, state.origin, state.scale = out, (patch.x, patch.y), (sx, sy)
        return out

    def remember(self, track: int, patch: Patch, time: float | None = None) -> None:
        state = self._state(track)
        state.last, state.last_time = patch, time

    def last(self, track: int) -> Patch | None:
        """The last patch remembered for ``track`` (to hold a swap through a short miss)."""
        state = self._tracks.get(track)
        return state.last if state else None

    def forget(self, track: int) -> None:
        self._tracks.pop(track, None)


def composite(frame: Image, patch: Patch | Image, mask: Mask | None = None, *,
              colour: str = "reinhard", blend: str = "laplacian", relight: bool = True,
              smoother: TemporalSmoother | None = None, track: int | None = None) -> Image:
    """The frame with the patch's face blended in; pixels outside the patch's support unchanged.

    ``patch`` is a :class:`Patch` from an engine, or a full-frame image with its full-frame
    ``mask``. ``colour``: "reinhard" (Lab mean/std, default), "histogram" or "none";
    ``relight`` also swaps the source's low-frequency shading for the target's. ``blend``:
    "laplacian" (default) or "poisson". With a ``smoother`` and a ``track`` id, colour statistics
    and mask are smoothed over time for that track.
    """
    if colour not in colours.COLOUR_MODES:
        raise InputError(f"unknown colour mode {colour!r}; use one of {', '.join(colours.COLOUR_MODES)}")
    if blend not in blending.BLEND_MODES:
        raise InputError(f"unknown blend mode {blend!r}; use one of {', '.join(blending.BLEND_MODES)}")
    if not isinstance(patch, Patch):
        if mask is None or patch.shape != frame.shape or mask.shape != frame.shape[:2]:
            raise InputError("composite needs a Patch, or a frame-sized patch with a frame-sized mask")
        patch = Patch(np.asarray(patch), np.asarray(mask, np.float32), 0, 0)
    x, y, w, h = patch.box
    crop = frame[y:y + h, x:x + w]
    if crop.shape[:2] != patch.shape:
        raise InputError(f"patch {patch.box} does not fit in a {frame.shape[1]}x{frame.shape[0]} frame")
    backdrop = crop if patch.backdrop is None else patch.backdrop
    if patch.support is not None:
        support = np.ascontiguousarray(patch.support).view(np.uint8)
    else:
        support = cv2.dilate((patch.mask > 0).astype(np.uint8), np.ones((3, 3), np.uint8),
                             iterations=blending.reach(crop.shape))
    out = frame.copy()
    region = out[y:y + h, x:x + w]
    if patch.work is None:
        m = patch.mask
        if smoother is not None and track is not None:
            m = smoother.mask(track, patch)
        merged = _merge(patch.image, backdrop, m, colour, blend, relight, smoother, track)
        cv2.copyTo(merged, support, region)  # writes into out
        return out
    cv2.copyTo(backdrop, support, region)  # the reshaped band
    face = _merge_at_work_size(patch, crop, backdrop, colour, blend, relight, smoother, track)
    if face is not None:
        (bx0, by0, bx1, by1), pixels = face
        cv2.copyTo(pixels, support[by0:by1, bx0:bx1], region[by0:by1, bx0:bx1])
    return out


def _merge(face: Image, backdrop: Image, m: Mask, colour: str, blend: str, relight: bool,
           smoother: TemporalSmoother | None, track: int | None) -> Image:
    """Colour-match ``face`` to ``backdrop`` under ``m`` and blend it in (one resolution)."""
    face = _match(face, backdrop, m, colour, relight, smoother, track)
    face = np.where((m > 0)[..., None], face, backdrop)  # nothing to blend outside the mask
    if blend == "laplacian":
        return blending.laplacian(face, backdrop, m)
    return blending.poisson(face, backdrop, m)


def _merge_at_work_size(patch: Patch, crop: Image, backdrop: Image, colour: str, blend: str,
                        relight: bool, smoother: TemporalSmoother | None, track: int | None
                        ) -> tuple[tuple[int, int, int, int], Image] | None:
    """Match and blend at the working size, then bring the result up to the frame's size.

    ``mask * up(merged) + (1 - mask) * (backdrop + up(merged - small backdrop))``: inside the
    mask the new face (it has no more detail than the working size), outside it the full-size
    backdrop's own detail plus the blend's change, so hair and jaw round the face stay sharp;
    where the blend changed nothing this is the backdrop exactly. Returns the box (x0, y0, x1,
    y1, crop pixels) the blend touched and its pixels.
    """
    work = patch.work
    h, w = crop.shape[:2]
    if patch.backdrop is None:  # a held patch: blend onto this frame's own pixels
        small_back = warp.shrink(crop, (work.shape[1], work.shape[0]))
    else:
        small_back = work.backdrop
    m = work.mask
    if smoother is not None and track is not None:
        m = smoother.mask(track, patch)
    merged = _merge(work.image, small_back, m, colour, blend, relight, smoother, track)
    # The blend reaches past the mask; everything it did not touch stays the backdrop exactly.
    changed = cv2.absdiff(merged, small_back)
    tx, ty, tw, th = cv2.boundingRect(changed.reshape(changed.shape[0], -1))  # columns x 3 channels
    if tw == 0:
        return None
    tx, tw = tx // 3, (tx + tw + 2) // 3 - tx // 3
    sx, sy = work.scale
    # Widened by the bicubic kernel's reach (2 working pixels).
    bx0, by0 = max(0, int((tx - 2) / sx)), max(0, int((ty - 2) / sy))
    bx1 = min(w, int(np.ceil((tx + tw + 2) / sx)) + 1)
    by1 = min(h, int(np.ceil((ty + th + 2) / sy)) + 1)
    box = np.s_[by0:by1, bx0:bx1]
    # Inside the mask: the upsampled result. Outside: the full-size backdrop plus the upsampled
    # change the blend made there (the same as up(merged) with the backdrop's detail put back).
    up_merged = cv2.resize(merged, (w, h), interpolation=cv2.INTER_CUBIC)[box]
    delta = cv2.subtract(merged, small_back, dtype=cv2.CV_16S)
    up_delta = cv2.resize(delta, (w, h), interpolation=cv2.INTER_CUBIC)[box]
    outside = cv2.add(backdrop[box], up_delta, dtype=cv2.CV_8U)
    weight = np.ascontiguousarray(cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)[box])
    return (bx0, by0, bx1, by1), cv2.blendLinear(up_merged, outside, weight, 1.0 - weight)


def _match(face: Image, backdrop: Image, mask: NDArray[np.float32], colour: str, relight: bool,
           smoother: TemporalSmoother | None, track: int | None) -> Image:
    weight = (mask > 0.5).astype(np.float32)
    if colour == "none" and not relight:
        return face
    if not weight.any():
        return face
    if colour == "histogram":
        face = colours.histogram(face, backdrop, weight)
    src, dst = colours.to_lab(face), colours.to_lab(backdrop)
    if relight:
        sigma = max(float(np.sqrt(weight.sum())) / 6, 2.0)
        src = colours.relight(src, colours.shading_ratio(src, dst, weight, sigma))
    if colour == "reinhard":
        stats = colours.lab_stats(src, dst, weight)
        if smoother is not None and track is not None:
            stats = smoother.stats(track, stats)
        src = colours.reinhard(src, stats)
    return colours.from_lab(src)
