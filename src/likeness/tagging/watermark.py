"""The likeness invisible watermark: a keyed, tiled spread-spectrum mark in the luma.

Why this shape:
- The image is viewed at a *working* resolution (shorter side about 512 px). There a 128x128
  tile is built in the Fourier domain from mid-frequency coefficients (periods of 8-26 working
  px): a quarter are a keyed sync template, the rest carry the payload. JPEG, blur and resizing
  keep these frequencies; they are too coarse for noise to hide and too fine to show as blotches.
- The tile repeats over the whole image. Detection folds the image onto one tile (sum of all
  tiles), so every surviving tile adds evidence, and a crop at any offset is only a cyclic shift
  of the tile, found by phase correlation with the sync template.
- The repetition also shows up as peaks in the image's autocorrelation, which give the tile
  period and its angle: that undoes an unknown resize and a small rotation before folding.
- Payload: 64 bits plus a 40-bit keyed MAC, convolutionally coded (K=7, rate 1/2), soft Viterbi.
  Detection accepts only when the MAC matches, so on an unmarked image each of the at most
  ``MAX_CANDIDATES`` geometry guesses passes with probability 2**-40: the false-positive rate is
  at most ``FALSE_POSITIVE_BOUND`` (about 7e-12).
- Strength follows local texture (perceptual masking): weaker on flat areas and skin.

Images are RGB uint8 (H, W, 3). The same delta is added to R, G and B, i.e. to the luma only.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.errors import InputError
from likeness.faces.types import Image
from likeness.tagging import channel_code

# The key every likeness install knows, so that `likeness verify` needs no vault. Being public it
# proves nothing about who marked a file; the C2PA signature does that. It makes marks findable.
PUBLIC_KEY = b"likeness/public-watermark-key/v1"

TILE = 128  # tile side in working pixels
WORK_SIDE = 512  # shorter side of the working resolution (images are never upscaled)
PAYLOAD_BITS = 64
MAC_BITS = 40
BAND = (8.0, 16.0)  # ring of tile frequencies used, in cycles per tile
SYNC_SHARE = 0.25
STRENGTH = 2.6  # luma amplitude (grey levels, RMS) where the texture gain is 1
MAX_RMS = 2.4  # cap: PSNR stays above 40 dB whatever the texture
MAX_CANDIDATES = 12
FLOOR = 2.0  # grey levels of noise assumed even on flat areas (sensor, JPEG)
FALSE_POSITIVE_BOUND = MAX_CANDIDATES * 2.0**-MAC_BITS


@dataclass(frozen=True)
class Detection:
    """Result of :func:`detect`: ``payload`` is None unless ``found``; ``confidence`` in [0, 1]."""

    found: bool
    payload: int | None
    confidence: float


@dataclass(frozen=True)
class _Geometry:
    """Affine map from analysis pixels to working pixels (2x3) and the analysis downscale."""

    matrix: NDArray[np.float64]


class _Layout:
    """The keyed tile layout for one key: which coefficient does what, with which sign."""

    def __init__(self, key: bytes):
        seed = int.from_bytes(hashlib.sha256(b"likeness-wm-layout-v1" + key).digest()[:8], "big")
        rng = np.random.default_rng(seed)
        u = np.fft.fftfreq(TILE, 1.0 / TILE)
        uu, vv = np.meshgrid(u, u)  # uu: x frequency, vv: y frequency (cycles per tile)
        rho = np.hypot(uu, vv)
        half = (vv > 0) | ((vv == 0) & (uu > 0))
        ys, xs = np.nonzero(half & (rho >= BAND[0]) & (rho <= BAND[1]))
        order = rng.permutation(len(ys))
        ys, xs = ys[order], xs[order]
        n_sync = int(len(ys) * SYNC_SHARE)
        self.sync = (ys[:n_sync], xs[:n_sync])
        self.data = (ys[n_sync:], xs[n_sync:])
        self.sync_phase = np.exp(2j * np.pi * rng.random(n_sync))
        self.n_coded = channel_code.coded_length(PAYLOAD_BITS + MAC_BITS)
        n_dims = 2 * (len(ys) - n_sync)
        self.assign = rng.permutation(np.arange(n_dims) % self.n_coded)
        self.signs = rng.choice(np.array([-1.0, 1.0]), n_dims)
        self.rings = np.rint(rho).astype(np.int64)
        self.key = key

    def mac(self, payload: int) -> int:
        digest = hmac.new(self.key, b"likeness-wm-mac" + payload.to_bytes(8, "big"), hashlib.sha256)
        return int.from_bytes(digest.digest()[:8], "big") >> (64 - MAC_BITS)

    def tile(self, payload: int) -> NDArray[np.float32]:
        """The spatial tile (unit RMS) carrying ``payload``."""
        word = (payload << MAC_BITS) | self.mac(payload)
        n = PAYLOAD_BITS + MAC_BITS
        bits = np.array([(word >> (n - 1 - i)) & 1 for i in range(n)], np.uint8)
        coded = channel_code.encode(bits).astype(np.float64) * 2.0 - 1.0
        dims = coded[self.assign] * self.signs
        spec = np.zeros((TILE, TILE), np.complex128)
        spec[self.sync] = self.sync_phase * np.sqrt(2.0)
        spec[self.data] = dims[0::2] + 1j * dims[1::2]
        # Hermitian partner so that the tile is real.
        spec[(-self.sync[0]) % TILE, (-self.sync[1]) % TILE] = np.conj(spec[self.sync])
        spec[(-self.data[0]) % TILE, (-self.data[1]) % TILE] = np.conj(spec[self.data])
        tile = np.fft.ifft2(spec).real
        return (tile / tile.std()).astype(np.float32)

    def read(self, tiles: NDArray[np.float32]) -> tuple[int | None, float, float]:
        """Payload (or None), confidence and sync sharpness from the stack of tiles (N, T, T).

        Each Fourier coefficient of the folded tile is divided by the host's spread there
        (estimated from the tiles one by one): a matched filter for the image's own spectrum.
        """
        spectra = np.fft.fft2(tiles)
        spec = spectra.sum(axis=0)
        power = (np.abs(spectra) ** 2).sum(axis=0)
        power = cv2.blur(np.fft.fftshift(power).astype(np.float32), (3, 3))
        spec = spec / np.sqrt(np.fft.ifftshift(power) + 1e-9)
        # Sync: phase correlation against the template gives the cyclic shift of the tile.
        cross = np.zeros((TILE, TILE), np.complex128)
        c = spec[self.sync] * np.conj(self.sync_phase)
        c = c / (np.abs(c) + 1e-12)
        cross[self.sync] = c
        cross[(-self.sync[0]) % TILE, (-self.sync[1]) % TILE] = np.conj(c)
        corr = np.fft.ifft2(cross).real
        py, px = np.unravel_index(int(np.argmax(corr)), corr.shape)
        sharp = float(corr[py, px] / (corr.std() * np.sqrt(corr.size) + 1e-12))
        dy = _subpixel(corr[(py - 1) % TILE, px], corr[py, px], corr[(py + 1) % TILE, px])
        dx = _subpixel(corr[py, (px - 1) % TILE], corr[py, px], corr[py, (px + 1) % TILE])
        ty, tx = py + dy, px + dx
        ys, xs = self.data
        fy = np.where(ys >= TILE // 2, ys - TILE, ys)
        fx = np.where(xs >= TILE // 2, xs - TILE, xs)
        coef = spec[ys, xs] * np.exp(2j * np.pi * (fy * ty + fx * tx) / TILE)
        dims = np.empty(2 * len(coef))
        dims[0::2], dims[1::2] = coef.real, coef.imag
        dims *= self.signs
        soft = np.bincount(self.assign, dims, minlength=self.n_coded)
        n = PAYLOAD_BITS + MAC_BITS
        bits = channel_code.decode(soft, n)
        word = 0
        for b in bits:
            word = (word << 1) | int(b)
        payload, mac = word >> MAC_BITS, word & ((1 << MAC_BITS) - 1)
        expected = channel_code.encode(bits).astype(np.float64) * 2.0 - 1.0
        agree = float(np.dot(expected[self.assign], dims) / (np.linalg.norm(dims) * np.sqrt(len(dims)) + 1e-12))
        if mac != self.mac(payload):
            return None, max(agree, 0.0), sharp
        return payload, float(np.clip(agree, 0.0, 1.0)), sharp


def _subpixel(a: float, b: float, c: float) -> float:
    den = a - 2 * b + c
    return 0.0 if den >= 0 else float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))


class Watermarker:
    """Embeds and detects with one key; holds the precomputed layout (caller-owned cache)."""

    def __init__(self, key: bytes = PUBLIC_KEY):
        if not key:
            raise InputError("watermark key must not be empty")
        self.key = key

    @cached_property
    def _layout(self) -> _Layout:
        return _Layout(self.key)

    # ---- embedding -------------------------------------------------------------------------

    def embed(self, image: Image, payload: int) -> Image:
        """``image`` with ``payload`` (0 <= payload < 2**64) woven into its luma."""
        _check_image(image)
        if not 0 <= int(payload) < 1 << PAYLOAD_BITS:
            raise InputError(f"watermark payload must fit in 64 bits, got {payload}")
        return self._apply(image, self._layout.tile(int(payload)))

    def _apply(self, image: Image, tile: NDArray[np.float32]) -> Image:
        h, w = image.shape[:2]
        scale = max(1.0, min(h, w) / WORK_SIDE)
        ww, wh = max(1, round(w / scale)), max(1, round(h / scale))
        small = cv2.resize(image, (ww, wh), interpolation=cv2.INTER_AREA) if scale > 1 else image
        luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        pattern = np.tile(tile, (-(-wh // TILE), -(-ww // TILE)))[:wh, :ww]
        delta = pattern * (STRENGTH * _texture_gain(luma))
        rms = float(np.sqrt(np.mean(delta * delta)))
        if rms > MAX_RMS:
            delta *= MAX_RMS / rms
        if scale > 1:
            delta = cv2.resize(delta, (w, h), interpolation=cv2.INTER_LINEAR)
        out = image.astype(np.int16)
        out += np.rint(delta).astype(np.int16)[:, :, None]
        return np.clip(out, 0, 255).astype(np.uint8)

    # ---- detection -------------------------------------------------------------------------

    def detect(self, image: Image) -> Detection:
        """Find the mark; ``found`` only when the keyed check passes."""
        return self.detect_frames([image])

    def detect_frames(self, frames: Iterable[Image]) -> Detection:
        """Pool the evidence of several frames of one video (same geometry in every frame)."""
        residuals = [_residual(_analysis_luma(f)) for f in frames]
        if not residuals:
            raise InputError("no frames to look for a watermark in")
        shape = residuals[0].shape
        residuals = [r for r in residuals if r.shape == shape]
        if min(shape) < 48:
            return Detection(False, None, 0.0)
        best = Detection(False, None, 0.0)
        identity = _Geometry(np.array([[1.0, 0, 0], [0, 1.0, 0]]))
        tried = 0
        for geometry in itertools.chain([identity], _lazy_candidates(residuals)):
            if tried >= MAX_CANDIDATES:
                break
            tried += 1
            tiles = np.concatenate([_tiles(r, geometry) for r in residuals])
            payload, confidence, _ = self._layout.read(tiles)
            if payload is not None:
                return Detection(True, payload, confidence)
            best = Detection(False, None, max(best.confidence, confidence))
        return Detection(False, None, min(best.confidence, 0.5))

    def embed_frames(self, frames: Iterable[Image], payload: int) -> list[Image]:
        """Every frame marked with the same payload (the tile is anchored at the frame origin)."""
        tile = self._layout.tile(int(payload))
        out = []
        for frame in frames:
            _check_image(frame)
            out.append(self._apply(frame, tile))
        return out


def _check_image(image: Image) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError("watermarking needs an RGB uint8 image of shape (H, W, 3)")


def _texture_gain(luma: NDArray[np.float32]) -> NDArray[np.float32]:
    """Local contrast gain: about 0.35 on flat areas, up to 1.8 in texture (hides the pattern)."""
    high = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
    energy = cv2.blur(high * high, (9, 9))
    activity = np.sqrt(np.maximum(energy, 0.0))
    gain = np.clip(activity / 4.0, 0.35, 1.8)
    # Darkest and brightest areas clip the delta anyway; keep it small there.
    edge = np.clip(np.minimum(luma, 255.0 - luma) / 24.0, 0.3, 1.0)
    return cv2.blur(gain * edge, (5, 5))


def _analysis_luma(image: Image) -> NDArray[np.float32]:
    """Luma at the working resolution of an un-resized image (never upscaled)."""
    _check_image(image)
    h, w = image.shape[:2]
    scale = max(1.0, min(h, w) / WORK_SIDE)
    if scale > 1:
        image = cv2.resize(image, (round(w / scale), round(h / scale)), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _residual(luma: NDArray[np.float32]) -> NDArray[np.float32]:
    """High-passed luma, each pixel weighted by how much mark it can carry over how much host hides it.

    The mark is weak on flat areas but so is the image there; weighting by mark amplitude over
    local host variance (the matched filter for a spatially varying background) lets the quiet
    parts of the picture count instead of drowning them in the textured ones.
    """
    high = luma - cv2.GaussianBlur(luma, (0, 0), 4.0)
    activity = np.sqrt(np.maximum(cv2.blur(high * high, (9, 9)), 0.0))
    gain = np.clip(activity / 4.0, 0.35, 1.8)
    return high * gain / (activity * activity + FLOOR * FLOOR)


def _tiles(residual: NDArray[np.float32], geometry: _Geometry) -> NDArray[np.float32]:
    """Warp into working pixels and cut into TILE x TILE tiles (N, TILE, TILE); empty ones dropped."""
    h, w = residual.shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ geometry.matrix.T
    size = np.ceil(corners.max(axis=0) - np.minimum(corners.min(axis=0), 0)).astype(int)
    m = geometry.matrix.copy()
    m[:, 2] -= np.minimum(corners.min(axis=0), 0)
    ow = int(-(-min(size[0], 4096) // TILE) * TILE)
    oh = int(-(-min(size[1], 4096) // TILE) * TILE)
    warped = cv2.warpAffine(residual, m, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    # Any offset left in m is a cyclic shift of the tile: the sync search finds it.
    tiles = warped.reshape(oh // TILE, TILE, ow // TILE, TILE).transpose(0, 2, 1, 3).reshape(-1, TILE, TILE)
    keep = np.abs(tiles).sum(axis=(1, 2)) > 0
    return tiles[keep] if keep.any() else tiles[:1]


def _lazy_candidates(residuals: Sequence[NDArray[np.float32]]) -> Iterator[_Geometry]:
    """Only computed when the identity guess failed (the costly part of detection)."""
    yield from _candidates(residuals)


def _candidates(residuals: Sequence[NDArray[np.float32]]) -> list[_Geometry]:
    """Geometry guesses from the tile lattices seen in the autocorrelation, best fitting first."""
    found, white = _lattices(residuals)
    scored = sorted((_refine_lattice(white, m) for m in found), key=lambda t: -t[1])
    return [_Geometry(m) for m, _ in scored]


def _lattices(residuals: Sequence[NDArray[np.float32]]) -> list[NDArray[np.float64]]:
    """Affine maps that send the strongest periodic lattices of the residual to TILE x TILE."""
    h, w = residuals[0].shape
    fh, fw = _nice(h), _nice(w)
    power = np.zeros((fh, fw), np.float32)
    for r in residuals:
        spec = cv2.dft(np.ascontiguousarray(r[:fh, :fw]), flags=cv2.DFT_COMPLEX_OUTPUT)
        power += spec[..., 0] ** 2 + spec[..., 1] ** 2
    # Whiten: the lattice shows as narrow spectral lines above the smooth image spectrum.
    mag = np.sqrt(power)
    smooth = cv2.blur(mag, (9, 9), borderType=cv2.BORDER_REFLECT) + 1e-6
    white = np.clip(mag / smooth - 1.0, 0.0, None).astype(np.float32)
    ac = cv2.idft(np.dstack([white, np.zeros_like(white)]), flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
    ac = np.fft.fftshift(ac)
    cy, cx = fh // 2, fw // 2
    lmin, lmax = 24, int(min(fh, fw) * 0.55)
    yy, xx = np.mgrid[0:fh, 0:fw]
    dy, dx = yy - cy, xx - cx
    rad = np.hypot(dx, dy)
    ang = np.degrees(np.arctan2(dy, dx))
    sector = (rad >= lmin) & (rad <= lmax) & (dx > 0) & (np.abs(ang) <= 8.0)
    peaks = (ac == cv2.dilate(ac, np.ones((5, 5), np.uint8))) & sector
    ys, xs = np.nonzero(peaks)
    if len(ys) == 0:
        return [], white
    order = np.argsort(-ac[ys, xs])[:4]
    out = []
    for i in order:
        v1 = _refine(ac, ys[i], xs[i]) - np.array([cy, cx], np.float64)
        guess = np.array([cy + v1[1], cx - v1[0]])  # v1 turned by +90 degrees (y, x)
        gy, gx = int(round(guess[0])), int(round(guess[1]))
        if not (2 <= gy < fh - 2 and 2 <= gx < fw - 2):
            v2 = np.array([v1[1], -v1[0]])
        else:
            win = ac[gy - 2 : gy + 3, gx - 2 : gx + 3]
            oy, ox = np.unravel_index(int(np.argmax(win)), win.shape)
            v2 = _refine(ac, gy - 2 + oy, gx - 2 + ox) - np.array([cy, cx], np.float64)
        # Columns (x, y) of the lattice vectors in analysis pixels.
        basis = np.array([[v1[1], v2[1]], [v1[0], v2[0]]])
        if abs(np.linalg.det(basis)) < 1.0:
            continue
        linear = TILE * np.linalg.inv(basis)
        out.append(np.hstack([linear, np.zeros((2, 1))]))
        # The strongest line may be the second harmonic of the tile: try half the period too.
        out.append(np.hstack([linear * 2.0, np.zeros((2, 1))]))
    return out, white


def _band_frequencies() -> NDArray[np.float64]:
    """Tile frequencies (u, v) of the mark, half plane, as (2, n) in cycles per tile."""
    u = np.arange(-int(BAND[1]), int(BAND[1]) + 1)
    uu, vv = np.meshgrid(u, u)
    rho = np.hypot(uu, vv)
    keep = ((vv > 0) | ((vv == 0) & (uu > 0))) & (rho >= BAND[0]) & (rho <= BAND[1])
    return np.stack([uu[keep], vv[keep]]).astype(np.float64)


_BAND_UV = _band_frequencies()  # constant


def _refine_lattice(white: NDArray[np.float32], matrix: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """Fine scale and angle: the ones whose predicted spectral lines (the mark's band) are brightest.

    The autocorrelation peak is broad; the mark's own frequencies sit 8-16 times further out,
    so fitting them pins the period down to about 0.1 %, which folding a whole image needs.
    """
    from scipy.ndimage import map_coordinates

    h, w = white.shape
    shifted = np.fft.fftshift(white)
    linear = matrix[:, :2]
    scales = 1.0 + np.linspace(-0.02, 0.02, 41)
    angles = np.radians(np.linspace(-1.0, 1.0, 9))
    best = (-1.0, linear)
    for a in angles:
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        base = (rot @ linear).T @ _BAND_UV / TILE  # cycles per analysis pixel at scale 1, (2, n)
        f = base[:, None, :] * scales[None, :, None]  # (2, scales, n)
        coords = np.stack([f[1] * h + h // 2, f[0] * w + w // 2]).reshape(2, -1)
        score = map_coordinates(shifted, coords, order=1, mode="constant").reshape(len(scales), -1).mean(axis=1)
        i = int(np.argmax(score))
        if score[i] > best[0]:
            best = (float(score[i]), scales[i] * (rot @ linear))
    return np.hstack([best[1], np.zeros((2, 1))]), best[0]


def _refine(ac: NDArray[np.float32], y: int, x: int) -> NDArray[np.float64]:
    h, w = ac.shape
    if not (1 <= y < h - 1 and 1 <= x < w - 1):
        return np.array([y, x], np.float64)
    dy = _subpixel(ac[y - 1, x], ac[y, x], ac[y + 1, x])
    dx = _subpixel(ac[y, x - 1], ac[y, x], ac[y, x + 1])
    return np.array([y + dy, x + dx])


def _nice(n: int) -> int:
    """Largest size <= n that the FFT handles fast (products of 2, 3, 5)."""
    m = n
    while m > 1:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m -= 1
    return n


def embed(image: Image, payload: int, key: bytes = PUBLIC_KEY) -> Image:
    """Watermark ``image`` with a 64-bit ``payload`` (the render id) under ``key``."""
    return Watermarker(key).embed(image, payload)


def detect(image: Image, key: bytes = PUBLIC_KEY) -> Detection:
    """Look for a mark made with ``key``; no original needed."""
    return Watermarker(key).detect(image)


def embed_frames(frames: Iterable[Image], payload: int, key: bytes = PUBLIC_KEY) -> list[Image]:
    """Mark every frame of a video with the same payload."""
    return Watermarker(key).embed_frames(frames, payload)


def detect_frames(frames: Iterable[Image], key: bytes = PUBLIC_KEY) -> Detection:
    """Detect over frames of one video, pooling evidence across them."""
    return Watermarker(key).detect_frames(frames)
