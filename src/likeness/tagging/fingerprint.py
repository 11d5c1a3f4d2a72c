"""Perceptual fingerprint of an output picture: "this file IS render X", or "the mark was moved".

Why it exists: a watermark says which render id a picture *claims*. The public mark can be
forged by anyone and even the secret mark can be lifted off a genuine render and pasted onto
another picture. The fingerprint, taken from the marked output and sealed in the render
record, ties the id to the picture itself: a copy of the render matches it, a different picture
carrying the same id does not.

Why this shape:
- Local binary features (ORB: FAST corners with rotated BRIEF descriptors) at a canonical size
  (about 512 x 512 px of area). A copy that was cropped, rescaled, recompressed, slightly rotated
  or re-graded keeps many of the same corners with nearly the same descriptors; a different
  picture shares none but by chance. ``STORED_FEATURES`` are kept per image, spread over a grid
  so that any half of the picture keeps about half of them.
- Matching: nearest descriptors with Lowe's ratio test, then a RANSAC similarity fit (shift,
  scale, rotation); only matches that agree with one geometry count. Chance matches between
  unrelated pictures do not agree on one geometry, so they rarely leave more than a handful.
- The score counts inliers with at most ``CELL_CAP`` per cell of a ``GRID`` x ``GRID`` grid over the
  stored picture, scaled down when their convex hull covers under ``MIN_AREA`` of it: a small
  shared detail (the same visible "AI-generated" plate on two renders, a logo, a caption)
  cannot confirm a match alone; agreement must be spread over the picture.
- A global 64-bit DCT hash (pHash) of each picture is kept too: it is what says "the whole
  frame, not a crop" in the detail line. It does not decide anything (it is not crop-robust).
- It is not a picture: corner positions and 256-bit binary descriptors (about 9 KB per image)
  cannot be turned back into a thumbnail.

Limit: it tells pictures apart, not a render from the photo it was made from. A face swap
changes the face only, so the unswapped target photo shares its background with the render; a
forged mark on that photo is caught by the secret mark (which it lacks), not by this.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.errors import InputError
from likeness.faces.types import Image

VERSION = 1
MAGIC = b"LKFP"
CANON_AREA = 512 * 512  # pictures are compared at this many pixels, whatever their size
STORED_FEATURES = 256  # per stored image: 36 bytes each (position + descriptor)
QUERY_FEATURES = 1500  # per queried image (not stored: more is only slower)
DETECT_FEATURES = 1500  # detected before the spread-out selection of the stored ones
MAX_IMAGES = 16  # frames per fingerprint (the caller samples up to ~8 of a video)
RATIO = 0.8  # Lowe's ratio test on Hamming distances
MAX_DISTANCE = 80  # of 256 bits: a nearest descriptor farther than this is no match
RANSAC_PX = 5.0  # reprojection tolerance, canonical pixels
SCALE_RANGE = (0.25, 4.0)  # query / stored scale a copy may have (crops enlarge, thumbnails shrink)
MAX_ROTATION = 30.0  # degrees; a copy is tilted a little, not turned on its side
GRID = 6  # score cells per side of the stored picture
CELL_CAP = 3  # inliers counted per cell at most
MATCH_THRESHOLD = 15.0  # score (capped inliers) from which a picture is the fingerprinted one
MIN_AREA = 0.06  # and the agreeing corners must span this share of the stored picture (convex hull)
DESCRIPTOR_BYTES = 32

_HEADER = struct.Struct(">4sBB")  # magic, version, image count
_IMAGE = struct.Struct(">HHHHQH")  # width, height, canonical width, canonical height, phash, features


@dataclass(frozen=True, eq=False)
class ImagePrint:
    """The fingerprint of one picture: its size, global hash and local features (canonical scale)."""

    width: int
    height: int
    canon_width: int
    canon_height: int
    phash: int
    points: NDArray[np.float32]  # (n, 2) x, y in canonical pixels
    descriptors: NDArray[np.uint8]  # (n, 32) ORB descriptors


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """The fingerprint of a render: one :class:`ImagePrint` per stored image or sampled frame."""

    images: tuple[ImagePrint, ...]

    def to_bytes(self) -> bytes:
        """Versioned compact form for the render record (the caller seals it)."""
        out = [_HEADER.pack(MAGIC, VERSION, len(self.images))]
        for im in self.images:
            n = len(im.points)
            out.append(_IMAGE.pack(im.width, im.height, im.canon_width, im.canon_height, im.phash, n))
            scale = np.array([65535.0 / max(im.canon_width - 1, 1), 65535.0 / max(im.canon_height - 1, 1)], np.float64)
            q = np.clip(np.round(im.points.astype(np.float64) * scale), 0, 65535).astype(">u2")
            out.append(q.tobytes())
            out.append(np.ascontiguousarray(im.descriptors, np.uint8).tobytes())
        return b"".join(out)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Fingerprint:
        """Parse :meth:`to_bytes` output; anything else (truncated, other version, garbage) is an InputError."""
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise InputError("a fingerprint is bytes")
        blob = bytes(blob)
        if len(blob) < _HEADER.size:
            raise InputError("fingerprint too short")
        magic, version, count = _HEADER.unpack_from(blob, 0)
        if magic != MAGIC:
            raise InputError("not a likeness fingerprint")
        if version != VERSION:
            raise InputError(f"fingerprint version {version} is not supported (this build reads {VERSION})")
        if not 1 <= count <= MAX_IMAGES:
            raise InputError(f"fingerprint holds {count} images (1-{MAX_IMAGES} expected)")
        at = _HEADER.size
        images = []
        for _ in range(count):
            if len(blob) < at + _IMAGE.size:
                raise InputError("fingerprint truncated")
            w, h, cw, ch, phash, n = _IMAGE.unpack_from(blob, at)
            at += _IMAGE.size
            if min(w, h, cw, ch) < 1 or n > DETECT_FEATURES:
                raise InputError("fingerprint is corrupt")
            end = at + n * (4 + DESCRIPTOR_BYTES)
            if len(blob) < end:
                raise InputError("fingerprint truncated")
            q = np.frombuffer(blob, ">u2", 2 * n, at).reshape(n, 2).astype(np.float64)
            points = (q / np.array([65535.0 / max(cw - 1, 1), 65535.0 / max(ch - 1, 1)])).astype(np.float32)
            desc = np.frombuffer(blob, np.uint8, n * DESCRIPTOR_BYTES, at + 4 * n).reshape(n, DESCRIPTOR_BYTES).copy()
            at = end
            points.setflags(write=False)
            desc.setflags(write=False)
            images.append(ImagePrint(w, h, cw, ch, phash, points, desc))
        if at != len(blob):
            raise InputError("fingerprint has trailing bytes")
        return cls(tuple(images))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fingerprint) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())


@dataclass(frozen=True)
class FingerprintMatch:
    """Result of :func:`compare`: ``matched`` when ``score`` >= ``threshold``; ``detail`` says why, for people."""

    matched: bool
    score: float
    threshold: float
    detail: str


@dataclass(frozen=True, eq=False)
class Probe:
    """Features of the pictures being checked, computed once to compare against many fingerprints."""

    images: tuple[ImagePrint, ...]


def fingerprint(images: Sequence[Image]) -> Fingerprint:
    """Fingerprint the marked output: the picture itself, or up to ~8 evenly sampled video frames."""
    images = _check_images(images)
    return Fingerprint(tuple(_describe(im, STORED_FEATURES, spread=True) for im in images))


def probe(images: Sequence[Image]) -> Probe:
    """Features of the pictures to check (any frames of a copy; they need not be the stored ones)."""
    images = _check_images(images)
    return Probe(tuple(_describe(im, QUERY_FEATURES, spread=False) for im in images))


def compare(fp: Fingerprint, images: Sequence[Image] | Probe) -> FingerprintMatch:
    """Is this picture (or are these frames) the fingerprinted render?

    Every query frame is compared with every stored frame and the best pair decides, so frames of
    a re-encoded copy match whichever stored frames they are closest to.
    """
    query = images if isinstance(images, Probe) else probe(images)
    best = (-1.0, 0, 1.0, 0.0, 0.0, 64)  # score, inliers, scale, angle, area, phash distance
    for stored in fp.images:
        for q in query.images:
            score, inliers, scale, angle, area = _match(stored, q)
            d = bin(stored.phash ^ q.phash).count("1")
            if (score, -d) > (best[0], -best[5]):
                best = (score, inliers, scale, angle, area, d)
    score, inliers, scale, angle, area, d = best
    matched = score >= MATCH_THRESHOLD
    if matched:
        framing = "whole frame" if d <= 12 and 0.9 <= scale <= 1.1 else f"copy at scale {scale:.2f}, {angle:+.1f} deg"
        detail = f"same picture: {inliers} corners agree on one geometry over {area:.0%} of it ({framing})"
    elif inliers >= 4:
        detail = (
            f"not this render's picture: {inliers} corners agree over {area:.0%} of it, "
            f"score {score:.1f} of {MATCH_THRESHOLD:.0f} needed"
        )
    else:
        detail = "not this render's picture: no corners agree"
    return FingerprintMatch(matched, round(float(max(score, 0.0)), 2), MATCH_THRESHOLD, detail)


# ---- internals -------------------------------------------------------------------------------


def _check_images(images: Sequence[Image]) -> list[Image]:
    if isinstance(images, np.ndarray):
        raise InputError("pass a sequence of images (a list with one image for a still)")
    images = list(images)
    if not 1 <= len(images) <= MAX_IMAGES:
        raise InputError(f"a fingerprint covers 1-{MAX_IMAGES} images, got {len(images)}")
    for im in images:
        if not isinstance(im, np.ndarray) or im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            raise InputError("fingerprinting needs RGB uint8 images of shape (H, W, 3)")
        if min(im.shape[:2]) < 16 or max(im.shape[:2]) > 65535:
            raise InputError(f"cannot fingerprint an image of {im.shape[1]}x{im.shape[0]} px")
    return images


def _canonical(image: Image) -> NDArray[np.uint8]:
    """Luma at about CANON_AREA pixels, so that copies at any size are compared at one scale."""
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = luma.shape
    f = math.sqrt(CANON_AREA / (h * w))
    size = (max(16, round(w * f)), max(16, round(h * f)))
    return cv2.resize(luma, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


def _orb(n: int) -> cv2.ORB:
    return cv2.ORB_create(nfeatures=n, scaleFactor=1.2, nlevels=8, edgeThreshold=19, patchSize=19, fastThreshold=12)


def _describe(image: Image, n: int, spread: bool) -> ImagePrint:
    luma = _canonical(image)
    ch, cw = luma.shape
    keypoints, desc = _orb(DETECT_FEATURES if spread else n).detectAndCompute(luma, None)
    if desc is None or not keypoints:
        points, desc = np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    else:
        points = np.array([k.pt for k in keypoints], np.float32)
        if spread and len(keypoints) > n:
            keep = _spread([k.response for k in keypoints], points, cw, ch, n)
            points, desc = points[keep], desc[keep]
    points.setflags(write=False)
    desc.setflags(write=False)
    return ImagePrint(image.shape[1], image.shape[0], cw, ch, _phash(luma), points, desc)


def _spread(response: list[float], points: NDArray[np.float32], w: int, h: int, n: int) -> NDArray[np.int64]:
    """Indices of ``n`` keypoints taken strongest-first in turn from each cell of an 8 x 8 grid."""
    cells = (np.minimum(points[:, 1] * 8 // h, 7) * 8 + np.minimum(points[:, 0] * 8 // w, 7)).astype(np.int64)
    order = np.argsort(-np.asarray(response), kind="stable")
    rank = np.zeros(len(order), np.int64)
    seen: dict[int, int] = {}
    for i in order:
        c = int(cells[i])
        rank[i] = seen.get(c, 0)
        seen[c] = rank[i] + 1
    # Round-robin over cells (rank), strongest first within a round.
    strength = np.empty(len(order), np.int64)
    strength[order] = np.arange(len(order))
    pick = np.lexsort((strength, rank))[:n]
    return np.sort(pick)


def _phash(luma: NDArray[np.uint8]) -> int:
    """64-bit DCT hash: signs of the 8 x 8 lowest frequencies (DC excluded) against their median."""
    small = cv2.resize(luma, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    bits[0] = False
    out = 0
    for b in bits:
        out = (out << 1) | int(b)
    return out


_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)


def _match(stored: ImagePrint, query: ImagePrint) -> tuple[float, int, float, float, float]:
    """(score, inliers, scale, angle, area) of the best similarity mapping stored features onto the query's.

    ``area``: share of the stored picture inside the convex hull of the inliers.
    """
    if len(stored.points) < 2 or len(query.points) < 2:
        return 0.0, 0, 1.0, 0.0, 0.0
    pairs = _MATCHER.knnMatch(np.ascontiguousarray(stored.descriptors), np.ascontiguousarray(query.descriptors), k=2)
    src, dst = [], []
    for pair in pairs:
        if len(pair) == 2 and pair[0].distance <= MAX_DISTANCE and pair[0].distance < RATIO * pair[1].distance:
            src.append(pair[0].queryIdx)
            dst.append(pair[0].trainIdx)
    if len(src) < 4:
        return 0.0, 0, 1.0, 0.0, 0.0
    a = stored.points[src].astype(np.float32)
    b = query.points[dst].astype(np.float32)
    m, mask = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX, maxIters=2000, confidence=0.995)
    if m is None or mask is None:
        return 0.0, 0, 1.0, 0.0, 0.0
    scale = float(math.hypot(m[0, 0], m[1, 0]))
    angle = float(math.degrees(math.atan2(m[1, 0], m[0, 0])))
    inl = mask.ravel().astype(bool)
    if not (SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] and abs(angle) <= MAX_ROTATION):
        return 0.0, int(inl.sum()), scale, angle, 0.0
    p = a[inl]
    cells = np.minimum(p[:, 1] * GRID // stored.canon_height, GRID - 1) * GRID + np.minimum(p[:, 0] * GRID // stored.canon_width, GRID - 1)
    counts = np.bincount(cells.astype(np.int64), minlength=GRID * GRID)
    area = float(cv2.contourArea(cv2.convexHull(p))) / (stored.canon_width * stored.canon_height) if len(p) >= 3 else 0.0
    capped = float(np.minimum(counts, CELL_CAP).sum())
    return capped * min(1.0, area / MIN_AREA), int(inl.sum()), scale, angle, area
