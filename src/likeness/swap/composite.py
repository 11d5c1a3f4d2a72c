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
from likeness.swap.engine import Mask, Patch


@dataclass
class _TrackState:
    stats: colours.LabStats | None = None
    mask: Mask | None = None  # full-frame-sized only over the last patch's box
    box: tuple[int, int, int, int] | None = None
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
        """The patch's mask averaged with the previous one, where both crops overlap."""
        state = self._state(track)
        x, y, w, h = patch.box
        out = patch.mask
        if state.mask is not None and state.box is not None:
            px, py, pw, ph = state.box
            ox0, oy0 = max(x, px), max(y, py)
            ox1, oy1 = min(x + w, px + pw), min(y + h, py + ph)
            if ox1 > ox0 and oy1 > oy0:
                out = patch.mask.copy()
                cur = out[oy0 - y:oy1 - y, ox0 - x:ox1 - x]
                prev = state.mask[oy0 - py:oy1 - py, ox0 - px:ox1 - px]
                # Only soften: never spread the mask past this frame's own support.
                cur[:] = np.where(cur > 0, self.keep * prev + (1 - self.keep) * cur, cur)
        state.mask, state.box = out, patch.box
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
    if crop.shape[:2] != patch.mask.shape:
        raise InputError(f"patch {patch.box} does not fit in a {frame.shape[1]}x{frame.shape[0]} frame")
    backdrop = crop if patch.backdrop is None else patch.backdrop
    m = patch.mask
    if smoother is not None and track is not None:
        m = smoother.mask(track, patch)
    face = _match(patch.image, backdrop, m, colour, relight, smoother, track)
    face = np.where((m > 0)[..., None], face, backdrop)  # nothing to blend outside the mask
    if blend == "laplacian":
        merged = blending.laplacian(face, backdrop, m)
    else:
        merged = blending.poisson(face, backdrop, m)
    if patch.support is not None:
        support = patch.support
    else:
        support = cv2.dilate((m > 0).astype(np.uint8), np.ones((3, 3), np.uint8),
                             iterations=blending.reach(crop.shape)) > 0
    out = frame.copy()
    out[y:y + h, x:x + w] = np.where(support[..., None], merged, crop)
    return out


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
