"""Colour transfer and relighting of the new face toward the target's skin and light.

Statistics are taken inside the mask only, on the new face and on the target under it. The
statistics are returned separately from their application so that video can smooth them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.faces.types import Image

COLOUR_MODES = ("reinhard", "histogram", "none")


@dataclass(frozen=True)
class LabStats:
    """Per-channel mean and standard deviation in CIE Lab of the source and of the target."""

    src_mean: NDArray[np.float32]
    src_std: NDArray[np.float32]
    dst_mean: NDArray[np.float32]
    dst_std: NDArray[np.float32]

    def mix(self, other: "LabStats", keep: float) -> "LabStats":
        """``keep`` of self plus the rest of ``other``: an exponential moving average step."""
        return LabStats(*(keep * a + (1 - keep) * b for a, b in zip(
            (self.src_mean, self.src_std, self.dst_mean, self.dst_std),
            (other.src_mean, other.src_std, other.dst_mean, other.dst_std))))


def to_lab(image: Image) -> NDArray[np.uint8]:
    """8-bit CIE Lab (OpenCV scaling: L*255/100, a+128, b+128): table-driven and fast."""
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2Lab)


def from_lab(lab: NDArray[np.uint8]) -> Image:
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)


def lab_stats(src_lab, dst_lab, weight: NDArray[np.float32]) -> LabStats:
    """Lab statistics of both images over ``weight`` (a 0/1 mask: every pixel in it counts once)."""
    inside = (np.asarray(weight) > 0).astype(np.uint8)

    def stats(lab):
        mean, std = cv2.meanStdDev(np.ascontiguousarray(lab), mask=inside)
        return (mean.ravel().astype(np.float32),
                np.maximum(std.ravel(), 1e-3).astype(np.float32))

    return LabStats(*stats(src_lab), *stats(dst_lab))


def reinhard(src_lab: NDArray[np.uint8], stats: LabStats) -> NDArray[np.uint8]:
    """Reinhard et al. (2001): shift and scale each Lab channel to the target's statistics.

    A per-channel affine map, so it is applied as a 256-entry table per channel.
    """
    # Chroma contrast is only ever damped a little or raised a little: a large a/b gain turns a
    # ruddy cheek on either face into orange blotches (seen on the GRID swaps).
    scale = np.clip(stats.dst_std / stats.src_std, [0.5, 0.6, 0.6], [2.0, 1.25, 1.25]).astype(np.float32)
    levels = np.arange(256, dtype=np.float32)[:, None]
    table = np.clip((levels - stats.src_mean) * scale + stats.dst_mean + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(src_lab, table.reshape(256, 1, 3))


def histogram(src: Image, dst: Image, weight: NDArray[np.float32]) -> Image:
    """Per-channel histogram matching inside the mask (RGB)."""
    w = weight.ravel()
    out = np.empty_like(src)
    for c in range(3):
        s_hist = np.bincount(src[..., c].ravel(), weights=w, minlength=256)
        d_hist = np.bincount(dst[..., c].ravel(), weights=w, minlength=256)
        s_cdf = np.cumsum(s_hist) / max(s_hist.sum(), 1e-6)
        d_cdf = np.cumsum(d_hist) / max(d_hist.sum(), 1e-6)
        lut = np.interp(s_cdf, d_cdf, np.arange(256))
        out[..., c] = np.clip(lut + 0.5, 0, 255).astype(np.uint8)[src[..., c]]
    return out


def shading_ratio(src_lab, dst_lab, weight, sigma: float) -> NDArray[np.float32]:
    """Ratio of the target's to the source's low-frequency lightness inside the mask.

    Multiplying the source's L by it replaces the source's directional light (a bright half
    cheek, a band across the forehead) with the target's; the blur is normalised by the blurred
    mask so the background does not leak in at the edge.
    """
    # Low frequencies only: blur at 1/8 scale (same result, a fraction of the time), then upsample.
    h, w_ = weight.shape
    step = max(1, int(sigma // 4))
    small = (max(1, w_ // step), max(1, h // step))
    w = cv2.resize(weight.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    src_l = cv2.resize(src_lab[..., 0].astype(np.float32), small, interpolation=cv2.INTER_AREA)
    dst_l = cv2.resize(dst_lab[..., 0].astype(np.float32), small, interpolation=cv2.INTER_AREA)
    s = sigma / step
    blur_w = cv2.GaussianBlur(w, (0, 0), s) + 1e-4
    src_b = cv2.GaussianBlur(src_l * w, (0, 0), s) / blur_w
    dst_b = cv2.GaussianBlur(dst_l * w, (0, 0), s) / blur_w
    ratio = np.clip((dst_b + 2.0) / (src_b + 2.0), 0.6, 1.6).astype(np.float32)
    return cv2.resize(ratio, (w_, h), interpolation=cv2.INTER_LINEAR)


def relight(src_lab: NDArray[np.uint8], ratio: NDArray[np.float32]) -> NDArray[np.uint8]:
    out = src_lab.copy()
    out[..., 0] = np.clip(src_lab[..., 0] * ratio + 0.5, 0, 255).astype(np.uint8)
    return out
