"""The likeness invisible watermark: a keyed, tiled spread-spectrum mark in the luma.

Why this shape:
- The image is marked at a *working* resolution: the image shrunk by a power of two ``s`` so
  that its shorter side is 384-767 px. There a 128x128 tile is built in the Fourier domain from
  mid-frequency coefficients (periods of 8-16 working px): a quarter are a keyed sync template,
  the rest carry the payload. JPEG, blur and resizing keep these frequencies; they are too coarse
  for noise to hide and too fine to show as blotches. The delta is computed there and upsampled,
  which keeps embedding cheap on large frames.
- The tile repeats over the whole image with a period of exactly ``128 * s`` pixels. Detection
  folds the residual image onto one tile (sum of all tiles), so every surviving tile adds
  evidence, and a crop at any offset is only a cyclic shift of the tile, found by phase
  correlation with the sync template.
- Because ``s`` is a power of two and the period is tied to the image size, the period seen by a
  detector is one of a few values relative to the image it gets: crops and halvings keep it on
  the ladder 64 * 2**n or 96 * 2**n px (a 0.75x screenshot lands on the 96 rung). Detection folds
  at those periods only (integer periods: a reshape and a sum, no resampling), so an unmarked
  frame costs a handful of small FFTs and no geometry search.
- Payload: 64 bits plus a 40-bit keyed MAC, convolutionally coded (K=7, rate 1/2), soft Viterbi.
  Detection accepts only when the MAC matches. At most ``MAX_CHECKS`` (period, shift) guesses
  are decoded per call, each passing on an unmarked image with probability 2**-40: the
  false-positive rate is at most ``FALSE_POSITIVE_BOUND`` (about 2.9e-11), whatever the gate.
- Strength follows local texture (perceptual masking): weaker on flat areas and skin.
- A second, secret-keyed mark (``Watermarker(PUBLIC_KEY, secret_key=...)``) can ride in the same
  pass: the public key is public, so anyone can stamp a real render id on any picture; only the
  vault's key makes a mark whose MAC checks under it. It uses the same band on a 96 px tile (3:4
  to the public one, see ``SECRET_TILE``), so the two are orthogonal and each detector reads its
  own as if alone, with the same ``MAX_CHECKS`` decodes and so the same false-positive bound.

Images are RGB uint8 (H, W, 3). The same delta is added to R, G and B, i.e. to the luma only.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
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
MIN_WORK_SIDE = 384  # the working shorter side is 384-767 px (smaller images: the image itself)
VIDEO_MIN_SIDE = 448  # video frames of 448-767 px (shorter side) are marked at twice the image period
PAYLOAD_BITS = 64
MAC_BITS = 40
BAND = (8.0, 16.0)  # ring of tile frequencies used, in cycles per tile
SYNC_SHARE = 0.25
STRENGTH = 2.6  # luma amplitude (grey levels, RMS) where the texture gain is 1
MAX_RMS = 2.4  # cap: PSNR stays above 40 dB whatever the texture
GAIN_POWER = 0.5  # compressed texture gain: mark energy where the host is quiet enough to read it
GAIN_RANGE = (0.35, 1.2)
FLOOR = 2.0  # grey levels of noise assumed even on flat areas (sensor, JPEG)
PERIOD_RANGE = (6.5, 1.2)  # tile periods looked for: shorter side / 6.5 up to shorter side / 1.2
MAX_HYPOTHESES = 6  # (level, period) folds per call
PEAKS = 3  # sync peaks decoded per fold at most
SYNC_GATE = 4.6  # sync peak (z-score) below which a fold is not worth decoding
MAX_CHECKS = MAX_HYPOTHESES * PEAKS
FALSE_POSITIVE_BOUND = MAX_CHECKS * 2.0**-MAC_BITS  # per detect call and key, the secret key's included
# The secret mark (any key but PUBLIC_KEY): the same band of image frequencies (periods of 8-16
# working px) on a 96 px tile. 96 and 128 are 3:4, so the two tiles share no Fourier coefficient
# once the secret drops the few whose frequencies are both multiples of 3, and folded at the other
# mark's period each mark cancels out every 3-4 tiles instead of adding to the other's soft bits.
# (Both marks on the 128 px tile, with different keys, read 4 % of secret marks back: each drowns the other.)
SECRET_TILE = 96
# Dual marking (public + secret in one pass): amplitude of each unit-RMS pattern. The patterns are
# orthogonal, so they add in energy: sqrt(0.9**2 + 0.7**2) = 1.14 times one mark's RMS (about 1.1 dB
# of PSNR) and MAX_RMS still caps the sum, so PSNR stays above 40 dB. Most photos reach the cap, and
# there the marks share it: the public one keeps 0.79 of the amplitude it has alone, the secret one
# 0.61. (Measured with each mark's part removed, the other reads as well as in the dual image: the
# cost is that energy split, not crosstalk.) The public mark keeps the larger share: it is what
# finds the render id for anyone; the fingerprint confirms the picture where the secret mark is lost.
PUBLIC_GAIN = 0.9
SECRET_GAIN = 0.7


@dataclass(frozen=True)
class Detection:
    """Result of :func:`detect`: ``payload`` is None unless ``found``; ``confidence`` in [0, 1]."""

    found: bool
    payload: int | None
    confidence: float


@dataclass(frozen=True)
class _Hypothesis:
    """Look for the tile at ``period`` pixels of analysis level ``level`` (image / 2**level)."""

    level: int
    period: int


@dataclass(frozen=True)
class _Geometry:
    """Where one mark lives: its tile side (working px), ring of tile frequencies, and fold ladder.

    ``exclude``: coefficients whose two frequencies are both multiples of it are left out, so
    that the mark is orthogonal to a mark of the other geometry (see ``SECRET_TILE``).
    ``rungs``: the fold periods a marked image shows, times powers of two (untouched and crops,
    halved, 0.75x screenshot).
    """

    tile: int
    band: tuple[float, float]
    exclude: int
    rungs: tuple[int, int, int]
    salt: bytes


PUBLIC_GEOMETRY = _Geometry(TILE, BAND, 0, (TILE // 2, TILE * 3 // 4, TILE), b"likeness-wm-layout-v1")
SECRET_GEOMETRY = _Geometry(
    SECRET_TILE,
    (BAND[0] * SECRET_TILE / TILE, BAND[1] * SECRET_TILE / TILE),
    SECRET_TILE // math.gcd(SECRET_TILE, TILE),
    (SECRET_TILE // 2, SECRET_TILE * 3 // 4, SECRET_TILE),
    b"likeness-wm-secret-layout-v1",
)


def _geometry(key: bytes) -> _Geometry:
    """The public key marks at the public geometry; every other key is a secret key."""
    return PUBLIC_GEOMETRY if key == PUBLIC_KEY else SECRET_GEOMETRY


class _Layout:
    """The keyed tile layout for one key: which coefficient does what, with which sign."""

    def __init__(self, key: bytes, geometry: _Geometry | None = None):
        geometry = geometry or _geometry(key)
        t = geometry.tile
        seed = int.from_bytes(hashlib.sha256(geometry.salt + key).digest()[:8], "big")
        rng = np.random.default_rng(seed)
        u = np.fft.fftfreq(t, 1.0 / t)
        uu, vv = np.meshgrid(u, u)  # uu: x frequency, vv: y frequency (cycles per tile)
        rho = np.hypot(uu, vv)
        half = (vv > 0) | ((vv == 0) & (uu > 0))
        keep = half & (rho >= geometry.band[0]) & (rho <= geometry.band[1])
        if geometry.exclude:
            keep &= ~((uu % geometry.exclude == 0) & (vv % geometry.exclude == 0))
        ys, xs = np.nonzero(keep)
        order = rng.permutation(len(ys))
        ys, xs = ys[order], xs[order]
        n_sync = int(len(ys) * SYNC_SHARE)
        self.geometry = geometry
        self.tile_side = t
        self.sync = (ys[:n_sync], xs[:n_sync])
        self.data = (ys[n_sync:], xs[n_sync:])
        self.sync_phase = np.exp(2j * np.pi * rng.random(n_sync))
        self.n_coded = channel_code.coded_length(PAYLOAD_BITS + MAC_BITS)
        n_dims = 2 * (len(ys) - n_sync)
        self.assign = rng.permutation(np.arange(n_dims) % self.n_coded)
        self.signs = rng.choice(np.array([-1.0, 1.0]), n_dims)
        # Signed frequencies (cycles per tile), to index a fold of any period.
        self.sync_f = (_signed(self.sync[0], t), _signed(self.sync[1], t))
        self.data_f = (_signed(self.data[0], t), _signed(self.data[1], t))
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
        t = self.tile_side
        spec = np.zeros((t, t), np.complex128)
        spec[self.sync] = self.sync_phase * np.sqrt(2.0)
        spec[self.data] = dims[0::2] + 1j * dims[1::2]
        # Hermitian partner so that the tile is real.
        spec[(-self.sync[0]) % t, (-self.sync[1]) % t] = np.conj(spec[self.sync])
        spec[(-self.data[0]) % t, (-self.data[1]) % t] = np.conj(spec[self.data])
        tile = np.fft.ifft2(spec).real
        return (tile / tile.std()).astype(np.float32)

    def sync_peaks(self, fold: NDArray[np.float32]) -> tuple[NDArray[np.complex128], list[tuple[float, float, float]]]:
        """Whitened spectrum of a fold and its best sync peaks as (z-score, ty, tx) in tile units / TILE.

        Each Fourier coefficient is divided by the local spread of the fold's spectrum (a
        matched filter for the host's own spectrum); spikes such as the JPEG block grid are
        clipped so one coefficient cannot outvote the rest.
        """
        p, t = fold.shape[0], self.tile_side
        spec = np.fft.fft2(fold)
        power = np.fft.fftshift(np.abs(spec) ** 2).astype(np.float32)
        power = np.fft.ifftshift(cv2.blur(power, (5, 5)))
        spec = spec / np.sqrt(power + 1e-12)
        mag = np.abs(spec)
        cap = 2.5 * float(np.median(mag[self.data_f[0] % p, self.data_f[1] % p])) + 1e-12
        spec = spec * np.minimum(1.0, cap / (mag + 1e-12))
        # Sync: phase correlation against the template gives the cyclic shift of the tile.
        c = spec[self.sync_f[0] % p, self.sync_f[1] % p] * np.conj(self.sync_phase)
        c = c / (np.abs(c) + 1e-12)
        cross = np.zeros((t, t), np.complex128)
        cross[self.sync] = c
        cross[(-self.sync[0]) % t, (-self.sync[1]) % t] = np.conj(c)
        corr = np.fft.ifft2(cross).real
        corr = corr / (corr.std() + 1e-12)
        peaks = []
        work = corr.copy()
        for _ in range(PEAKS):
            py, px = np.unravel_index(int(np.argmax(work)), work.shape)
            z = float(work[py, px])
            if z < SYNC_GATE:
                break
            dy = _subpixel(corr[(py - 1) % t, px], corr[py, px], corr[(py + 1) % t, px])
            dx = _subpixel(corr[py, (px - 1) % t], corr[py, px], corr[py, (px + 1) % t])
            peaks.append((z, py + dy, px + dx))
            ys, xs = np.ix_(np.arange(py - 2, py + 3) % t, np.arange(px - 2, px + 3) % t)
            work[ys, xs] = -np.inf
        return spec, peaks

    def read(self, spec: NDArray[np.complex128], ty: float, tx: float) -> tuple[int | None, float]:
        """Payload (or None) and confidence from a whitened fold spectrum, the tile shifted by (ty, tx)."""
        p, t = spec.shape[0], self.tile_side
        fy, fx = self.data_f
        coef = spec[fy % p, fx % p] * np.exp(2j * np.pi * (fy * ty + fx * tx) / t)
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
            return None, max(agree, 0.0)
        return payload, float(np.clip(agree, 0.0, 1.0))


def _signed(index: NDArray[np.int64], tile: int = TILE) -> NDArray[np.int64]:
    return np.where(index >= tile // 2, index - tile, index)


def _subpixel(a: float, b: float, c: float) -> float:
    den = a - 2 * b + c
    return 0.0 if den >= 0 else float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))


_ADD_ROWS = 256  # rows of a frame the mark is added to at a time


def _embed_scale(height: int, width: int, video: bool = False) -> int:
    """Power-of-two shrink from the image to its working resolution (shorter side 384-767 px).

    Video frames of 448-767 px are shrunk by 2 (working 224-383 px): at half size their image-scale
    mark would sit at 4-8 px periods, which H.264 at CRF 28 wipes out. Larger frames already
    are marked coarsely enough; coarser still would put the mark where the picture drowns it.
    """
    short = min(height, width)
    if short < MIN_WORK_SIDE * 2:
        return 2 if video and short >= VIDEO_MIN_SIDE else 1
    return 1 << int(math.floor(math.log2(short / MIN_WORK_SIDE)))


class Watermarker:
    """Embeds and detects with one key; holds the keyed layout and the last tiled pattern (caller-owned cache).

    ``video=True`` marks at twice the period (frames of 448-767 px, worked at 224-383 px): H.264 at CRF 28
    on a half-size copy wipes the finer image-scale mark out, and frames are pooled anyway. Both
    scales sit on the ladder that detection searches, so one detector reads both.

    ``secret_key`` (with ``key`` = PUBLIC_KEY) makes :meth:`embed` lay a second mark, keyed by the
    secret, in the same pass: the public mark says "a likeness output, render X" to anyone, the
    secret one, which nobody without the vault's key can forge, says the studio made it.
    ``Watermarker(secret_key).detect`` reads the secret mark; :meth:`detect` of a dual marker reads
    the public one and :meth:`detect_secret` the secret one.
    """

    def __init__(self, key: bytes = PUBLIC_KEY, *, video: bool = False, secret_key: bytes | None = None):
        if not key:
            raise InputError("watermark key must not be empty")
        if secret_key is not None:
            if key != PUBLIC_KEY:
                raise InputError("a secret mark goes alongside the public mark: key must be PUBLIC_KEY")
            if not secret_key or secret_key == PUBLIC_KEY:
                raise InputError("the secret watermark key must be non-empty and not the public key")
        self.key = key
        self.secret_key = secret_key
        self.video = video
        self._pattern_cache: tuple[tuple[int, int, int], NDArray[np.float32]] | None = None

    @cached_property
    def _layout(self) -> _Layout:
        return _Layout(self.key)

    @cached_property
    def _secret_layout(self) -> _Layout | None:
        return None if self.secret_key is None else _Layout(self.secret_key)

    # ---- embedding -------------------------------------------------------------------------

    def embed(self, image: Image, payload: int) -> Image:
        """``image`` with ``payload`` (0 <= payload < 2**64) woven into its luma (both marks if dual)."""
        _check_image(image)
        return self._apply(image, self._pattern(_check_payload(payload), *_work_shape(image, self.video)), self.video)

    def embed_frames(self, frames: Iterable[Image], payload: int) -> list[Image]:
        """Every frame marked with the same payload at the video scale (the tile is anchored at the frame origin)."""
        payload = _check_payload(payload)
        out = []
        for frame in frames:
            _check_image(frame)
            out.append(self._apply(frame, self._pattern(payload, *_work_shape(frame, True)), True))
        return out

    def _pattern(self, payload: int, height: int, width: int) -> NDArray[np.float32]:
        """The tile(s) repeated over a working grid; the last one is kept, frames of a video share it."""
        key = (payload, height, width)
        if self._pattern_cache is None or self._pattern_cache[0] != key:
            pattern = _tiled(self._layout, payload, height, width)
            if self._secret_layout is not None:
                pattern *= PUBLIC_GAIN
                pattern += SECRET_GAIN * _tiled(self._secret_layout, payload, height, width)
            self._pattern_cache = (key, np.ascontiguousarray(pattern))
        return self._pattern_cache[1]

    def _apply(self, image: Image, pattern: NDArray[np.float32], video: bool) -> Image:
        h, w = image.shape[:2]
        s = _embed_scale(h, w, video)
        wh, ww = pattern.shape
        luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if s > 1:
            # Exact s x s block means (OpenCV's fast integer path), edge-padded to the grid.
            fh, fw = h // s, w // s
            luma = cv2.resize(luma[: fh * s, : fw * s], (fw, fh), interpolation=cv2.INTER_AREA)
            luma = cv2.copyMakeBorder(luma, 0, wh - fh, 0, ww - fw, cv2.BORDER_REPLICATE)
        delta = pattern * (STRENGTH * _texture_gain(luma.astype(np.float32)))
        rms = float(np.sqrt(np.mean(delta * delta)))
        if rms > MAX_RMS:
            delta *= MAX_RMS / rms
        if s > 1:
            delta = cv2.resize(delta, (ww * s, wh * s), interpolation=cv2.INTER_LINEAR)[:h, :w]
        # Added in bands of rows: the three-channel float delta of a whole 4K frame would be 100 MB.
        out = np.empty_like(image)
        for top in range(0, h, _ADD_ROWS):
            rows = slice(top, min(h, top + _ADD_ROWS))
            d = np.ascontiguousarray(delta[rows])
            out[rows] = cv2.add(image[rows], cv2.merge([d, d, d]), dtype=cv2.CV_8U)
        return out

    # ---- detection -------------------------------------------------------------------------

    def detect(self, image: Image) -> Detection:
        """Find the mark of ``key``; ``found`` only when the keyed check passes."""
        return self.detect_frames([image])

    def detect_frames(self, frames: Iterable[Image]) -> Detection:
        """Pool the evidence of several frames of one video (same geometry in every frame).

        Folds of every frame are summed per hypothesis; the sync peaks rank the hypotheses and
        only those above the gate are decoded, at most ``MAX_CHECKS`` decodes in all.
        """
        return _detect(self._layout, frames)

    def detect_secret(self, image: Image) -> Detection:
        """Find the secret mark (a dual marker only): same as ``Watermarker(secret_key).detect``."""
        return self.detect_secret_frames([image])

    def detect_secret_frames(self, frames: Iterable[Image]) -> Detection:
        """The secret mark pooled over frames of one video (a dual marker only)."""
        if self._secret_layout is None:
            raise InputError("this Watermarker has no secret key")
        return _detect(self._secret_layout, frames)


def _tiled(layout: _Layout, payload: int, height: int, width: int) -> NDArray[np.float32]:
    tile = layout.tile(payload)
    t = layout.tile_side
    return np.tile(tile, (-(-height // t), -(-width // t)))[:height, :width].copy()


def _detect(layout: _Layout, frames: Iterable[Image]) -> Detection:
    shape = None
    hypotheses: list[_Hypothesis] = []
    folds: dict[_Hypothesis, NDArray[np.float32]] = {}
    for frame in frames:
        _check_image(frame)
        if shape is None:
            shape = frame.shape[:2]
            hypotheses = _hypotheses(*shape, layout.geometry)
        elif frame.shape[:2] != shape:
            continue
        for hyp, fold in _folds(frame, hypotheses):
            folds[hyp] = folds[hyp] + fold if hyp in folds else fold
    if shape is None:
        raise InputError("no frames to look for a watermark in")
    ranked = []
    for hyp in hypotheses:
        if hyp in folds:
            spec, peaks = layout.sync_peaks(folds[hyp])
            ranked.extend((z, ty, tx, spec) for z, ty, tx in peaks)
    ranked.sort(key=lambda r: -r[0])
    best = 0.0
    for _, ty, tx, spec in ranked[:MAX_CHECKS]:
        payload, confidence = layout.read(spec, ty, tx)
        if payload is not None:
            return Detection(True, payload, confidence)
        best = max(best, confidence)
    return Detection(False, None, min(best, 0.5))


def _check_image(image: Image) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError("watermarking needs an RGB uint8 image of shape (H, W, 3)")


def _check_payload(payload: int) -> int:
    if not 0 <= int(payload) < 1 << PAYLOAD_BITS:
        raise InputError(f"watermark payload must fit in 64 bits, got {payload}")
    return int(payload)


def _work_shape(image: Image, video: bool) -> tuple[int, int]:
    h, w = image.shape[:2]
    s = _embed_scale(h, w, video)
    return -(-h // s), -(-w // s)


def _texture_gain(luma: NDArray[np.float32]) -> NDArray[np.float32]:
    """Local contrast gain: 0.35 on flat areas, up to 1.2 in texture (square root: under a fixed PSNR,
    mark energy in mid textures is read far more reliably than in busy ones, where the host drowns it)."""
    high = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
    energy = cv2.blur(high * high, (9, 9))
    activity = np.sqrt(np.maximum(energy, 0.0))
    gain = _gain(activity)
    # Darkest and brightest areas clip the delta anyway; keep it small there.
    edge = np.clip(np.minimum(luma, 255.0 - luma) / 24.0, 0.3, 1.0)
    return cv2.blur(gain * edge, (5, 5))


def _gain(activity: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.clip((activity / 4.0) ** GAIN_POWER, GAIN_RANGE[0], GAIN_RANGE[1])


def _hypotheses(height: int, width: int, geometry: _Geometry = PUBLIC_GEOMETRY) -> list[_Hypothesis]:
    """(level, fold period) pairs for the tile periods a marked image of this size can show.

    Periods sit on the ladder 64 * 2**n and 96 * 2**n image pixels (public tile; 48 and 72 for
    the secret one), from shorter side / 6.5 (an untouched image) to shorter side / 1.2 (a video
    frame, or a crop to about a third of the area), both scaled with the tile; each is folded at
    the coarsest level where it spans 96 or 128 analysis pixels (64 at full size; 72, 96 and 48 for the secret tile).
    """
    short = min(height, width)
    ratio = geometry.tile / TILE
    lo, hi = short * ratio / PERIOD_RANGE[0], max(short * ratio / PERIOD_RANGE[1], float(geometry.tile))
    three_quarter = geometry.rungs[1]
    out = []
    for period in sorted({f << n for f in geometry.rungs for n in range(8)}):
        if lo <= period <= hi:
            level = 0
            while period >> (level + 1) >= three_quarter and (period >> (level + 1)) << (level + 1) == period:
                level += 1
            out.append(_Hypothesis(level, period >> level))
    out.sort(key=lambda h: abs(math.log((h.period << h.level) * 4.0 / (short * ratio))))  # likeliest first
    return out[:MAX_HYPOTHESES]


def _folds(image: Image, hypotheses: list[_Hypothesis]) -> list[tuple[_Hypothesis, NDArray[np.float32]]]:
    """The image's weighted residual at each needed level, folded onto each hypothesis' period."""
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    levels = sorted({h.level for h in hypotheses})
    residuals = {}
    current, at = luma, 0
    for level in levels:
        while at < level:
            h, w = current.shape
            current = cv2.resize(current[: h // 2 * 2, : w // 2 * 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            at += 1
        residuals[level] = _residual(current.astype(np.float32))
    return [(hyp, _fold(residuals[hyp.level], hyp.period)) for hyp in hypotheses]


def _residual(luma: NDArray[np.float32]) -> NDArray[np.float32]:
    """High-passed luma, each pixel weighted by how much mark it can carry over how much host hides it.

    The mark is weak on flat areas but so is the image there; weighting by mark amplitude over
    local host variance (the matched filter for a spatially varying background) lets the quiet
    parts of the picture count instead of drowning them in the textured ones.
    """
    high = luma - cv2.GaussianBlur(luma, (0, 0), 4.0)
    activity = np.sqrt(np.maximum(cv2.blur(high * high, (9, 9)), 0.0))
    gain = _gain(activity)
    return high * gain / (activity * activity + FLOOR * FLOOR)


def _fold(residual: NDArray[np.float32], period: int) -> NDArray[np.float32]:
    """Sum of all period x period tiles of the residual (the last row and column zero-padded)."""
    h, w = residual.shape
    ph, pw = -(-h // period) * period, -(-w // period) * period
    if (ph, pw) != (h, w):
        residual = cv2.copyMakeBorder(residual, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=0)
    return residual.reshape(ph // period, period, pw // period, period).sum(axis=(0, 2), dtype=np.float32)


def embed(image: Image, payload: int, key: bytes = PUBLIC_KEY, *, secret_key: bytes | None = None) -> Image:
    """Watermark ``image`` with a 64-bit ``payload`` (the render id) under ``key`` (and ``secret_key``)."""
    return Watermarker(key, secret_key=secret_key).embed(image, payload)


def detect(image: Image, key: bytes = PUBLIC_KEY) -> Detection:
    """Look for a mark made with ``key`` (the public key or a secret one); no original needed."""
    return Watermarker(key).detect(image)


def embed_frames(frames: Iterable[Image], payload: int, key: bytes = PUBLIC_KEY, *, secret_key: bytes | None = None) -> list[Image]:
    """Mark every frame of a video with the same payload (both marks with ``secret_key``)."""
    return Watermarker(key, secret_key=secret_key).embed_frames(frames, payload)


def detect_frames(frames: Iterable[Image], key: bytes = PUBLIC_KEY) -> Detection:
    """Detect over frames of one video, pooling evidence across them."""
    return Watermarker(key).detect_frames(frames)
