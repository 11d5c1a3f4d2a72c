"""Random warp and colour augmentation, DeepFaceLab style.

The network sees a randomly warped face and must rebuild the unwarped one, so it learns a face
and not a lookup of training pixels; the same random affine moves input, target and masks so
pose variety grows without breaking their alignment. Colour jitter (and, for the source, the
colour statistics of a random target face) teaches the source decoder the target's light.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from likeness.train.samples import FaceSamples


@dataclass(frozen=True, eq=False)
class Batch:
    """float32 arrays in [0, 1]: warped input and clean target (B, R, R, 3), masks (B, R, R)."""

    warped: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    eyes_mouth: np.ndarray


def random_affine(rng: np.random.Generator, size: int) -> np.ndarray:
    """Rotation +-10 deg, scale +-5 %, shift +-5 % of the crop, about the crop centre."""
    angle = rng.uniform(-10, 10)
    scale = rng.uniform(0.95, 1.05)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-0.05, 0.05, 2) * size
    return matrix


def random_warp_maps(rng: np.random.Generator, size: int, *, cells: int = 5, strength: float = 0.24):
    """Smooth random displacement maps for cv2.remap (the DFL grid warp)."""
    cell = size / (cells - 1)
    grid = np.linspace(0, size, cells, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    gx[1:-1, 1:-1] += rng.normal(0, cell * strength, (cells - 2, cells - 2)).astype(np.float32)
    gy[1:-1, 1:-1] += rng.normal(0, cell * strength, (cells - 2, cells - 2)).astype(np.float32)
    map_x = cv2.resize(gx, (size, size), interpolation=cv2.INTER_CUBIC)
    map_y = cv2.resize(gy, (size, size), interpolation=cv2.INTER_CUBIC)
    return map_x, map_y


def lab_stats(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of a float RGB image's Lab channels inside the mask."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    sel = lab[mask > 0.5] if (mask > 0.5).sum() > 16 else lab.reshape(-1, 3)
    return sel.mean(0), sel.std(0) + 1e-3


def transfer_colour(image: np.ndarray, mask: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Reinhard transfer to given Lab statistics (augmentation only; compositing lives in likeness.swap)."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    m0, s0 = lab_stats(image, mask)
    lab = (lab - m0) / s0 * std + mean
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB), 0, 1)


def jitter_colour(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Small brightness, contrast and per-channel gain changes."""
    gain = rng.uniform(0.9, 1.1) * rng.uniform(0.95, 1.05, 3)
    mean = image.mean()
    contrast = rng.uniform(0.85, 1.15)
    return np.clip((image - mean) * contrast + mean * gain + rng.uniform(-0.04, 0.04), 0, 1).astype(np.float32)


def make_batch(
    rng: np.random.Generator,
    samples: FaceSamples,
    batch_size: int,
    *,
    colour_from: FaceSamples | None = None,
    warp: bool = True,
) -> Batch:
    """A random batch; with ``colour_from``, half the faces take a random face's colours from it."""
    r = samples.resolution
    idx = rng.integers(0, len(samples), batch_size)
    warped, target, mask, em = [], [], [], []
    for i in idx:
        img = samples.images[i].astype(np.float32) / 255.0
        m, e = samples.masks[i], samples.eyes_mouth[i]
        if colour_from is not None and rng.random() < 0.5:
            j = int(rng.integers(0, len(colour_from)))
            other = colour_from.images[j].astype(np.float32) / 255.0
            img = transfer_colour(img, m, *lab_stats(other, colour_from.masks[j]))
        img = jitter_colour(rng, img)
        a = random_affine(rng, r)
        warp_args = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        clean = cv2.warpAffine(img, a, (r, r), **warp_args)
        m = cv2.warpAffine(m, a, (r, r), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        e = cv2.warpAffine(e, a, (r, r), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        if warp:
            mx, my = random_warp_maps(rng, r)
            w = cv2.remap(clean, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        else:
            w = clean
        warped.append(w)
        target.append(clean)
        mask.append(m)
        em.append(e)
    return Batch(np.stack(warped), np.stack(target), np.stack(mask), np.stack(em))
