"""Perceptual fingerprint of an output picture: "this file IS render X", or "the mark was moved".

Why it exists: a watermark says which render id a picture *claims*. The public mark can be
forged by anyone and even the secret mark can be lifted off a genuine render and pasted onto
another picture. The fingerprint, taken from the marked output and sealed in the render
record, ties the id to the picture itself: a copy of the render matches it, a different picture
carrying the same id does not; and, where the swapped faces' boxes were given, the photo the
render was made from does not either.

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
- Face regions (version 2). A face swap changes the face only: the photo a render was made from
  shares everything else with it and matches the features above (crops of renders' own source
  photos matched in 975 of 2491 comparisons of benchmarks/mark_forgery.py), so a public mark put
  on that photo would "match" the render. Each swapped face's box is therefore described on its
  own, in a "region frame": the box's long side resampled to ``REGION_SIZE`` px (enlarged at most
  ``REGION_MAX_ZOOM`` times), with a margin, from the full-resolution picture. Up to
  ``REGION_FEATURES`` ORB corners are detected inside the ellipse inscribed in the box (shrunk by
  ``REGION_ELLIPSE``: the face, not the box's corners) and kept with position, pyramid level,
  angle and descriptor. At comparison, once the picture as a whole matched, its fitted
  similarity maps the query into the same region frame (crop, scale and rotation undone), the
  placement is refined on the face's own corners (small moves only), and descriptors are
  computed *at the stored corners' positions and angles*, not detected afresh (blur and
  compression move detections, not the patch a descriptor reads); the best of a few small
  shifts (``REGION_SHIFTS``) absorbs what error is left. A corner agrees when its descriptor is
  within ``REGION_DISTANCE`` bits. The region score is the share of the corners in view that agree:
  a copy of the render keeps nearly all (benchmark: >= 0.76 under every attack, the lowest on
  40 px faces), the original face at the same place (same pose, light and background,
  another person's features) at most 0.62 (mostly under 0.3: what agrees is where the swap left
  the box unchanged). Hence a band: True from ``REGION_THRESHOLD``, False under ``REGION_REJECT``,
  None between (a copy too damaged to tell: better "unconfirmed" than a wrong "forged"). A face
  cut by the copy's edge is checked only with its middle and ``REGION_MIN_IN_VIEW`` of its corners
  in view, and under ``REGION_FULL_VIEW`` in view must reach ``REGION_THRESHOLD_PARTIAL``: a crop
  can keep mostly the rim a swap leaves alone (source crops reached 0.73 there).
- It is not a picture: corner positions with binary descriptors (about 9 KB per image, about
  3.6 KB more per face) hold no pixels; inverting binary descriptors gives at best a rough sketch
  of the corners' neighbourhoods, which is one more reason the caller seals it in the render record.

Limits: the region check needs the boxes of the swapped faces at fingerprint time, and a copy in
which the face is in view and at least ``REGION_MIN_QUERY_PX`` wide; otherwise it is None (not
checked). Faces of ~40 px or less are weakly told apart (their sources reach the None band). For
a video fingerprint a face that disagrees is None, not False: the copy's frames may show other
moments than the stored ones (a moved or changed face), so only agreement decides there. It tells
the swapped face from the original one, not from a second swap of the same identity onto the
same photo (another render, with its own record).
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

VERSION = 2  # 1: global features only; 2: + per-image face regions (version 1 still reads)
MAGIC = b"LKFP"
CANON_AREA = 512 * 512  # pictures are compared at this many pixels, whatever their size
STORED_FEATURES = 256  # per stored image: 36 bytes each (position + descriptor)
QUERY_FEATURES = 1500  # per queried image (not stored: more is only slower)
DETECT_FEATURES = 1500  # detected before the spread-out selection of the stored ones
MAX_IMAGES = 16  # frames per fingerprint (the caller samples up to ~8 of a video)
MAX_QUERY_IMAGES = 64  # frames per comparison (every query frame meets every stored one)
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

MAX_REGIONS = 8  # face boxes per stored image
REGION_MIN_PX = 16  # a box narrower than this (in its image) cannot be described
REGION_SIZE = 128  # the box's long side in the region frame, px
REGION_MAX_ZOOM = 4.0  # a small face is enlarged at most this much (more only blurs what ORB reads)
REGION_FRAME = 208  # region frame side, px: the box and a margin for the descriptors' patches
REGION_FEATURES = 96  # corners kept per face: 38 bytes each (position, level, angle, descriptor)
REGION_DETECT = 600  # detected before the spread-out selection
REGION_ELLIPSE = 0.9  # corners are kept inside the ellipse inscribed in the box, scaled by this (the face, not the box's corners)
REGION_FAST = 7  # FAST threshold in the region frame (faces are smooth; lower finds more corners)
REGION_DISTANCE = 32  # of 256 bits: a stored corner agrees when the descriptor at its place is this close
REGION_SHIFTS = (-3.0, -1.5, 0.0, 1.5, 3.0)  # region-frame px, both axes: the fit's error absorbed
REGION_REFINE = True  # refine the face's placement on its own corners before reading it
REGION_REFINE_MIN = 8  # corner matches (then RANSAC inliers) a refinement needs
REGION_REFINE_SHIFT = 0.2  # of the face's long side: the most a refinement may move it
REGION_MIN_QUERY_PX = 32  # a face smaller than this in the copy (long side, px) is not checked: too little is left of it
REGION_MIN_VISIBLE = 12  # corners in view below which a face is not checked
REGION_MIN_IN_VIEW = 0.35  # nor under this share of its corners, nor without its middle (a face cut by the copy's edge: what is left may be its unchanged rim)
REGION_THRESHOLD = 0.75  # share of the corners in view that agree, from which the face is the render's
REGION_FULL_VIEW = 0.7  # share of a face's corners in view from which it counts as whole in the copy
REGION_THRESHOLD_PARTIAL = 0.9  # what a face partly in view must reach (its rim, unchanged by a swap, may be most of what is left)
REGION_REJECT = 0.50  # and below which it is another face (a still); in between the copy cannot tell
REGION_PAIRS = 8  # globally matching (stored, query) frame pairs whose faces are checked, best first
PROBE_MAX_AREA = 2_100_000  # a probe keeps its luma at most this big (a 1080p frame fits)

_HEADER = struct.Struct(">4sBB")  # magic, version, image count
_IMAGE = struct.Struct(">HHHHQH")  # width, height, canonical width, canonical height, phash, features
_REGION = struct.Struct(">HHHHH")  # box x, y, w, h (image px), corners
_POINT_UNIT = 64.0  # region corner positions are stored in 1/64 px of the region frame
_PATCH_RADIUS = 24  # region-frame px around a corner that its descriptor reads (31 px patch, level 1)


@dataclass(frozen=True, eq=False)
class RegionPrint:
    """One swapped face: its box in the image and its corners in the region frame."""

    box: tuple[int, int, int, int]  # x, y, w, h in the image's pixels
    points: NDArray[np.float32]  # (n, 2) x, y in region-frame pixels
    octaves: NDArray[np.uint8]  # (n,) ORB pyramid level
    angles: NDArray[np.float32]  # (n,) degrees
    descriptors: NDArray[np.uint8]  # (n, 32)


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
    regions: tuple[RegionPrint, ...] = ()


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
            out.append(struct.pack(">B", len(im.regions)))
            for r in im.regions:
                k = len(r.points)
                out.append(_REGION.pack(*r.box, k))
                out.append(np.clip(np.round(r.points.astype(np.float64) * _POINT_UNIT), 0, 65535).astype(">u2").tobytes())
                out.append(np.ascontiguousarray(r.octaves, np.uint8).tobytes())
                out.append(_angle_bytes(r.angles).tobytes())
                out.append(np.ascontiguousarray(r.descriptors, np.uint8).tobytes())
        return b"".join(out)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Fingerprint:
        """Parse :meth:`to_bytes` output (this version or version 1); anything else is an InputError."""
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise InputError("a fingerprint is bytes")
        blob = bytes(blob)
        if len(blob) < _HEADER.size:
            raise InputError("fingerprint too short")
        magic, version, count = _HEADER.unpack_from(blob, 0)
        if magic != MAGIC:
            raise InputError("not a likeness fingerprint")
        if version not in (1, VERSION):
            raise InputError(f"fingerprint version {version} is not supported (this build reads 1-{VERSION})")
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
            regions: list[RegionPrint] = []
            if version >= 2:
                if len(blob) < at + 1:
                    raise InputError("fingerprint truncated")
                (nreg,) = struct.unpack_from(">B", blob, at)
                at += 1
                if nreg > MAX_REGIONS:
                    raise InputError("fingerprint is corrupt")
                for _ in range(nreg):
                    region, at = _read_region(blob, at, w, h)
                    regions.append(region)
            _freeze(points, desc)
            images.append(ImagePrint(w, h, cw, ch, phash, points, desc, tuple(regions)))
        if at != len(blob):
            raise InputError("fingerprint has trailing bytes")
        return cls(tuple(images))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fingerprint) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())


@dataclass(frozen=True)
class FingerprintMatch:
    """Result of :func:`compare`: ``matched`` when ``score`` >= ``threshold``; ``detail`` says why, for people.

    ``matched`` is about the picture as a whole. ``region_matched`` is about the swapped faces, placed
    in the query by the picture's fit: True when a stored face agrees with the face at its place
    (``region_score``, the share of its corners that agree, >= ``REGION_THRESHOLD``); False when the
    best face agrees under ``REGION_REJECT`` (another face there: the photo the render was made from);
    None when it cannot be said: no faces stored, the picture as a whole did not match (nothing to
    place them with), the faces are out of view or under ``REGION_MIN_QUERY_PX`` in the copy, the
    score falls between the two bounds, or a video fingerprint's faces disagree (a copy's frames may
    show other moments than the stored ones).
    """

    matched: bool
    score: float
    threshold: float
    detail: str
    region_matched: bool | None = None
    region_score: float = 0.0


@dataclass(frozen=True, eq=False)
class Probe:
    """Features of the pictures being checked, computed once to compare against many fingerprints.

    ``lumas`` keeps each picture's luma (at most ``PROBE_MAX_AREA`` px) for the face-region check.
    """

    images: tuple[ImagePrint, ...]
    lumas: tuple[NDArray[np.uint8], ...] = ()


def fingerprint(images: Sequence[Image], regions: Sequence[Sequence[Sequence[float]]] | None = None) -> Fingerprint:
    """Fingerprint the marked output: the picture itself, or up to ~8 evenly sampled video frames.

    ``regions``: optional, one list per image of the boxes (x, y, w, h, in that image's pixels) of
    the faces that were swapped in it; each is described apart so that :func:`compare` tells the
    render from the photo it was made from. An empty list: no swapped face in that image.
    """
    images = _check_images(images)
    boxes = _check_regions(regions, images)
    out = []
    for im, bx in zip(images, boxes):
        base = _describe(im, STORED_FEATURES, spread=True)
        if bx:
            luma = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
            base = ImagePrint(base.width, base.height, base.canon_width, base.canon_height, base.phash, base.points, base.descriptors,
                              tuple(_describe_region(luma, b) for b in bx))
        out.append(base)
    return Fingerprint(tuple(out))


def probe(images: Sequence[Image]) -> Probe:
    """Features of the pictures to check (any frames of a copy; they need not be the stored ones)."""
    images = _check_images(images, MAX_QUERY_IMAGES)
    lumas = []
    for im in images:
        luma = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
        h, w = luma.shape
        if h * w > PROBE_MAX_AREA:
            f = math.sqrt(PROBE_MAX_AREA / (h * w))
            luma = cv2.resize(luma, (max(16, round(w * f)), max(16, round(h * f))), interpolation=cv2.INTER_AREA)
        luma.setflags(write=False)
        lumas.append(luma)
    return Probe(tuple(_describe(im, QUERY_FEATURES, spread=False) for im in images), tuple(lumas))


def compare(fp: Fingerprint, images: Sequence[Image] | Probe) -> FingerprintMatch:
    """Is this picture (or are these frames) the fingerprinted render, and are its faces the swapped ones?

    Every query frame is compared with every stored frame and the best pair decides ``matched``, so
    frames of a re-encoded copy match whichever stored frames they are closest to. The faces are
    checked on the best ``REGION_PAIRS`` pairs that match; the best face decides ``region_matched``.
    """
    query = images if isinstance(images, Probe) else probe(images)
    fits = []  # (score, -phash distance, inliers, scale, angle, area, m, stored index, query index)
    for si, stored in enumerate(fp.images):
        for qi, q in enumerate(query.images):
            score, inliers, scale, angle, area, m = _match(stored, q)
            d = bin(stored.phash ^ q.phash).count("1")
            fits.append((score, -d, inliers, scale, angle, area, m, si, qi))
    fits.sort(key=lambda f: (f[0], f[1]), reverse=True)
    score, neg_d, inliers, scale, angle, area, _, _, _ = fits[0]
    d = -neg_d
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
    region_matched, region_score = None, 0.0
    if not any(im.regions for im in fp.images):
        if matched:
            detail += "; no swapped-face regions stored with this fingerprint"
    elif not matched:
        detail += "; swapped faces not checked (the picture does not match)"
    elif not query.lumas:
        detail += "; swapped faces not checked (the probe holds no luma)"
    else:
        region_matched, region_score, note = _check_regions_of(fp, query, fits)
        detail += "; " + note
    return FingerprintMatch(matched, round(float(max(score, 0.0)), 2), MATCH_THRESHOLD, detail, region_matched, round(float(region_score), 3))


def _check_regions_of(fp: Fingerprint, query: Probe, fits: list) -> tuple[bool | None, float, str]:
    """(region_matched, region_score, note) over the best REGION_PAIRS matching frame pairs: the best face decides.

    A face cut by the copy's edge (under ``REGION_FULL_VIEW`` of its corners in view) must agree
    from ``REGION_THRESHOLD_PARTIAL``: what is left of it may be mostly the rim a swap leaves alone."""
    best = (False, -1.0, 0, 0, 1.0)  # passes, share, agreeing corners, corners in view, needed
    for f in [f for f in fits if f[0] >= MATCH_THRESHOLD and fp.images[f[7]].regions][:REGION_PAIRS]:
        stored, q, m = fp.images[f[7]], query.images[f[8]], f[6]
        for region in stored.regions:
            share, agree, seen = _match_region(region, stored, q, query.lumas[f[8]], m)
            if share < 0:
                continue
            needed = REGION_THRESHOLD if seen >= REGION_FULL_VIEW * len(region.points) else REGION_THRESHOLD_PARTIAL
            result = (share >= needed, share, agree, seen, needed)
            if result[:3] > best[:3]:
                best = result
    passes, share, agree, seen, needed = best
    if share < 0:
        return None, 0.0, f"swapped face not in view in this copy (or cut by its edge, or under {REGION_MIN_QUERY_PX} px): not checked"
    said = f"{agree} of {seen} face corners agree ({share:.0%}, {needed:.0%} needed{'' if needed == REGION_THRESHOLD else ': face partly in view'})"
    if passes:
        return True, share, f"swapped face matches: {said}"
    if share < REGION_REJECT and len(fp.images) == 1:
        return False, share, f"swapped face does NOT match: {said}: another face at its place, as in the photo the render was made from"
    if share < REGION_REJECT:
        return None, share, (f"swapped face not seen at the frames compared: {said}; a video copy's frames may show other moments, "
                             "so this does not decide")
    return None, share, f"swapped face inconclusive: {said} (too small, too damaged or too cut in this copy to tell)"


# ---- internals -------------------------------------------------------------------------------


def _freeze(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


def _check_images(images: Sequence[Image], most: int = MAX_IMAGES) -> list[Image]:
    if isinstance(images, np.ndarray):
        raise InputError("pass a sequence of images (a list with one image for a still)")
    images = list(images)
    if not 1 <= len(images) <= most:
        raise InputError(f"expected 1-{most} images, got {len(images)}")
    for im in images:
        if not isinstance(im, np.ndarray) or im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            raise InputError("fingerprinting needs RGB uint8 images of shape (H, W, 3)")
        if min(im.shape[:2]) < 16 or max(im.shape[:2]) > 65535:
            raise InputError(f"cannot fingerprint an image of {im.shape[1]}x{im.shape[0]} px")
    return images


def _check_regions(regions: Sequence[Sequence[Sequence[float]]] | None, images: list[Image]) -> list[list[tuple[int, int, int, int]]]:
    """Boxes per image, clipped to it; an InputError for the wrong shape, a box off the image or too small."""
    if regions is None:
        return [[] for _ in images]
    if isinstance(regions, np.ndarray) or len(regions) != len(images):
        raise InputError(f"regions: one list of boxes per image expected ({len(images)})")
    out = []
    for im, boxes in zip(images, regions):
        h, w = im.shape[:2]
        boxes = list(boxes)
        if len(boxes) > MAX_REGIONS:
            raise InputError(f"regions: at most {MAX_REGIONS} boxes per image")
        kept = []
        for box in boxes:
            try:
                x, y, bw, bh = (float(v) for v in box)
            except (TypeError, ValueError):
                raise InputError(f"regions: a box is (x, y, w, h), got {box!r}") from None
            if not all(math.isfinite(v) for v in (x, y, bw, bh)):
                raise InputError(f"regions: box {box!r} is not finite")
            x0, y0, x1, y1 = max(0, math.floor(x)), max(0, math.floor(y)), min(w, math.ceil(x + bw)), min(h, math.ceil(y + bh))
            if x1 - x0 < REGION_MIN_PX or y1 - y0 < REGION_MIN_PX:
                raise InputError(f"regions: box {box!r} is off the {w}x{h} image or under {REGION_MIN_PX} px")
            kept.append((x0, y0, x1 - x0, y1 - y0))
        out.append(kept)
    return out


def _canonical(image: Image) -> NDArray[np.uint8]:
    """Luma at about CANON_AREA pixels, so that copies at any size are compared at one scale."""
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = luma.shape
    f = math.sqrt(CANON_AREA / (h * w))
    size = (max(16, round(w * f)), max(16, round(h * f)))
    return cv2.resize(luma, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


def _orb(n: int) -> cv2.ORB:
    return cv2.ORB_create(nfeatures=n, scaleFactor=1.2, nlevels=8, edgeThreshold=19, patchSize=19, fastThreshold=12)


def _region_orb(n: int = REGION_DETECT) -> cv2.ORB:
    return cv2.ORB_create(nfeatures=n, scaleFactor=1.3, nlevels=3, edgeThreshold=31, patchSize=31, fastThreshold=REGION_FAST)


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
    _freeze(points, desc)
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


# ---- face regions ------------------------------------------------------------------------------


def _angle_bytes(angles: NDArray[np.float32]) -> NDArray[np.uint8]:
    return (np.round(np.mod(angles.astype(np.float64), 360.0) * 256.0 / 360.0).astype(np.int64) % 256).astype(np.uint8)


def _read_region(blob: bytes, at: int, w: int, h: int) -> tuple[RegionPrint, int]:
    if len(blob) < at + _REGION.size:
        raise InputError("fingerprint truncated")
    x, y, bw, bh, k = _REGION.unpack_from(blob, at)
    at += _REGION.size
    if k > REGION_DETECT or bw < 1 or bh < 1 or x + bw > w or y + bh > h:
        raise InputError("fingerprint is corrupt")
    end = at + k * (4 + 2 + DESCRIPTOR_BYTES)
    if len(blob) < end:
        raise InputError("fingerprint truncated")
    points = (np.frombuffer(blob, ">u2", 2 * k, at).reshape(k, 2).astype(np.float64) / _POINT_UNIT).astype(np.float32)
    octaves = np.frombuffer(blob, np.uint8, k, at + 4 * k).copy()
    angles = (np.frombuffer(blob, np.uint8, k, at + 5 * k).astype(np.float32) * np.float32(360.0 / 256.0))
    desc = np.frombuffer(blob, np.uint8, k * DESCRIPTOR_BYTES, at + 6 * k).reshape(k, DESCRIPTOR_BYTES).copy()
    if k and (octaves.max() >= 3 or points.max() >= REGION_FRAME):
        raise InputError("fingerprint is corrupt")
    _freeze(points, octaves, angles, desc)
    return RegionPrint((x, y, bw, bh), points, octaves, angles, desc), end


def _affine3(m: NDArray) -> NDArray[np.float64]:
    out = np.eye(3)
    out[:2] = m
    return out


def _pixel_scale(sx: float, sy: float) -> NDArray[np.float64]:
    """Pixel-centre mapping of a resize by (sx, sy): x' = (x + 0.5) sx - 0.5."""
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def _zoom(box: tuple[int, int, int, int]) -> float:
    return min(REGION_SIZE / max(box[2], box[3]), REGION_MAX_ZOOM)


def _frame_from_image(box: tuple[int, int, int, int]) -> NDArray[np.float64]:
    """Image pixels -> region frame of ``box``: its centre at the frame's, its long side REGION_SIZE px."""
    x, y, w, h = box
    f = _zoom(box)
    c = (REGION_FRAME - 1) / 2
    return np.array([[f, 0.0, c - f * (x + (w - 1) / 2)], [0.0, f, c - f * (y + (h - 1) / 2)], [0.0, 0.0, 1.0]])


def _sample(luma: NDArray[np.uint8], a: NDArray[np.float64]) -> tuple[NDArray[np.uint8], NDArray[np.uint8]] | None:
    """The region frame cut from ``luma`` by ``a`` (luma px -> frame px), and where it saw the picture (255).

    A frame that shrinks the picture is taken from an area-averaged copy of the cut (no aliasing)."""
    inv = np.linalg.inv(a)
    corners = np.array([[0, 0, 1], [REGION_FRAME, 0, 1], [0, REGION_FRAME, 1], [REGION_FRAME, REGION_FRAME, 1]], np.float64) @ inv.T
    h, w = luma.shape
    x0, y0 = max(0, math.floor(corners[:, 0].min()) - 2), max(0, math.floor(corners[:, 1].min()) - 2)
    x1, y1 = min(w, math.ceil(corners[:, 0].max()) + 3), min(h, math.ceil(corners[:, 1].max()) + 3)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    sub = luma[y0:y1, x0:x1]
    m = a @ np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1.0]])
    s = math.sqrt(abs(np.linalg.det(a[:2, :2])))
    if s < 0.75:
        sw, sh = max(4, round(sub.shape[1] * s)), max(4, round(sub.shape[0] * s))
        sub_scale = _pixel_scale(sw / sub.shape[1], sh / sub.shape[0])
        sub = cv2.resize(sub, (sw, sh), interpolation=cv2.INTER_AREA)
        m = m @ np.linalg.inv(sub_scale)
    frame = cv2.warpAffine(sub, m[:2], (REGION_FRAME, REGION_FRAME), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    seen = cv2.warpAffine(np.full(sub.shape, 255, np.uint8), m[:2], (REGION_FRAME, REGION_FRAME), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return frame, seen


def _describe_region(luma: NDArray[np.uint8], box: tuple[int, int, int, int]) -> RegionPrint:
    """Up to REGION_FEATURES corners of the face in ``box`` (the ellipse inscribed in it), in its region frame."""
    a = _frame_from_image(box)
    cut = _sample(luma, a)
    empty = RegionPrint(box, np.zeros((0, 2), np.float32), np.zeros(0, np.uint8), np.zeros(0, np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8))
    if cut is None:
        return empty
    frame, seen = cut
    f = _zoom(box)
    mask = np.zeros_like(frame)
    c = round((REGION_FRAME - 1) / 2)
    axes = (max(1, round(box[2] * f * REGION_ELLIPSE / 2)), max(1, round(box[3] * f * REGION_ELLIPSE / 2)))
    cv2.ellipse(mask, (c, c), axes, 0, 0, 360, 255, -1)
    mask &= cv2.erode(seen, np.ones((2 * _PATCH_RADIUS + 1, 2 * _PATCH_RADIUS + 1), np.uint8))
    keypoints, desc = _region_orb().detectAndCompute(frame, mask)
    if desc is None or not keypoints:
        return empty
    points = np.array([k.pt for k in keypoints], np.float32)
    keep = np.arange(len(keypoints))
    if len(keypoints) > REGION_FEATURES:
        keep = _spread([k.response for k in keypoints], points, REGION_FRAME, REGION_FRAME, REGION_FEATURES)
    octaves = np.array([keypoints[i].octave for i in keep], np.uint8)
    angles = np.array([keypoints[i].angle for i in keep], np.float32)
    points, desc = points[keep], desc[keep]
    # What is stored is what a query is compared with: positions and angles as quantized, descriptors taken there.
    points = (np.round(points.astype(np.float64) * _POINT_UNIT) / _POINT_UNIT).astype(np.float32)
    angles = _angle_bytes(angles).astype(np.float32) * np.float32(360.0 / 256.0)
    got, desc2 = _descriptors_at(frame, points, octaves, angles)
    ok = got >= 0
    points, octaves, angles = points[got[ok]], octaves[got[ok]], angles[got[ok]]
    desc = desc2[ok]
    _freeze(points, octaves, angles, desc)
    return RegionPrint(box, points, octaves, angles, desc)


def _descriptors_at(frame: NDArray[np.uint8], points: NDArray[np.float32], octaves: NDArray[np.uint8], angles: NDArray[np.float32],
                    shifts: Sequence[tuple[float, float]] = ((0.0, 0.0),)) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
    """ORB descriptors at given corners (and shifted copies), not detected: (index of each row's corner * len(shifts) + shift, rows).

    Rows are in index order; a corner too near the frame's edge has none (ORB drops it)."""
    kps = []
    for s, (dx, dy) in enumerate(shifts):
        for i, ((x, y), o, ang) in enumerate(zip(points.tolist(), octaves.tolist(), angles.tolist())):
            kps.append(cv2.KeyPoint(x + dx, y + dy, 31.0 * 1.3**o, ang, 1.0, int(o), i * len(shifts) + s))
    if not kps:
        return np.zeros(0, np.int64), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    kept, desc = _region_orb().compute(frame, kps)
    if desc is None or not kept:
        return np.zeros(0, np.int64), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    ids = np.array([k.class_id for k in kept], np.int64)
    order = np.argsort(ids, kind="stable")
    return ids[order], desc[order]


_SHIFTS = tuple((dx, dy) for dy in REGION_SHIFTS for dx in REGION_SHIFTS)
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _match_region(region: RegionPrint, stored: ImagePrint, query: ImagePrint, luma: NDArray[np.uint8], m: NDArray) -> tuple[float, int, int]:
    """(share, agreeing corners, corners in view) of the stored face against the query placed by ``m``.

    The face is placed by the picture's fit, then refined on the face's own corners (a face may sit
    a little off the background's fit: a video frame of another moment, a local warp), then read.
    """
    k = len(region.points)
    if k == 0 or m is None:
        return -1.0, 0, 0
    shown = max(region.box[2], region.box[3]) * (stored.canon_width / stored.width) * math.hypot(m[0, 0], m[1, 0]) / (query.canon_width / query.width)
    if shown < REGION_MIN_QUERY_PX:
        return -1.0, 0, 0
    # query luma -> query original -> query canonical -> (m^-1) stored canonical -> stored original -> region frame
    lh, lw = luma.shape
    q_orig = _pixel_scale(query.width / lw, query.height / lh)
    q_canon = _pixel_scale(query.canon_width / query.width, query.canon_height / query.height)
    s_canon = _pixel_scale(stored.canon_width / stored.width, stored.canon_height / stored.height)
    a = _frame_from_image(region.box) @ np.linalg.inv(s_canon) @ np.linalg.inv(_affine3(m)) @ q_canon @ q_orig
    cut = _sample(luma, a)
    if cut is None:
        return -1.0, 0, 0
    if REGION_REFINE:
        r = _refine(region, *cut)
        if r is not None:
            a = np.linalg.inv(r) @ a
            cut = _sample(luma, a)
            if cut is None:
                return -1.0, 0, 0
    frame, seen = cut
    visible = _visible(region, seen)
    middle = round((REGION_FRAME - 1) / 2)
    if visible.sum() < max(REGION_MIN_VISIBLE, REGION_MIN_IN_VIEW * k) or not seen[middle, middle]:
        return -1.0, 0, int(visible.sum())
    ids, desc = _descriptors_at(frame, region.points, region.octaves, region.angles, _SHIFTS)
    if len(ids) == 0:
        return -1.0, 0, 0
    corner, shift = ids // len(_SHIFTS), ids % len(_SHIFTS)
    dist = _POPCOUNT[np.bitwise_xor(desc, region.descriptors[corner])].sum(axis=1)
    good = (dist <= REGION_DISTANCE) & visible[corner]
    counts = np.bincount(shift[good], minlength=len(_SHIFTS))
    seen_n = int(visible.sum())
    agree = int(counts.max())
    return agree / seen_n, agree, seen_n


def _visible(region: RegionPrint, seen: NDArray[np.uint8]) -> NDArray[np.bool_]:
    inner = cv2.erode(seen, np.ones((2 * _PATCH_RADIUS + 1, 2 * _PATCH_RADIUS + 1), np.uint8))
    px = np.clip(np.round(region.points).astype(np.int64), 0, REGION_FRAME - 1)
    return inner[px[:, 1], px[:, 0]] > 0


def _refine(region: RegionPrint, frame: NDArray[np.uint8], seen: NDArray[np.uint8]) -> NDArray[np.float64] | None:
    """Similarity (3 x 3, stored region frame -> this frame) fitted on the face's detected corners, or None.

    Only a small correction is taken: a fit far from identity is some other agreement, not the face."""
    mask = cv2.erode(seen, np.ones((2 * _PATCH_RADIUS + 1, 2 * _PATCH_RADIUS + 1), np.uint8))
    keypoints, desc = _region_orb().detectAndCompute(frame, mask)
    if desc is None or len(keypoints) < REGION_REFINE_MIN:
        return None
    pairs = _MATCHER.knnMatch(np.ascontiguousarray(region.descriptors), desc, k=2)
    src, dst = [], []
    for pair in pairs:
        if len(pair) == 2 and pair[0].distance <= MAX_DISTANCE and pair[0].distance < RATIO * pair[1].distance:
            src.append(pair[0].queryIdx)
            dst.append(pair[0].trainIdx)
    if len(src) < REGION_REFINE_MIN:
        return None
    a = region.points[src].astype(np.float32)
    b = np.array([keypoints[i].pt for i in dst], np.float32)
    m, inl = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=3.0, maxIters=500, confidence=0.99)
    if m is None or inl is None or int(inl.sum()) < REGION_REFINE_MIN:
        return None
    scale = math.hypot(m[0, 0], m[1, 0])
    angle = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    c = (REGION_FRAME - 1) / 2
    moved = math.hypot(*(m @ np.array([c, c, 1.0]) - c))
    if not (0.85 <= scale <= 1.18 and abs(angle) <= 10 and moved <= REGION_REFINE_SHIFT * REGION_SIZE):
        return None
    return _affine3(m)


_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)


def _match(stored: ImagePrint, query: ImagePrint) -> tuple[float, int, float, float, float, NDArray | None]:
    """(score, inliers, scale, angle, area, m) of the best similarity ``m`` (2 x 3, stored -> query canonical px).

    ``area``: share of the stored picture inside the convex hull of the inliers.
    """
    if len(stored.points) < 2 or len(query.points) < 2:
        return 0.0, 0, 1.0, 0.0, 0.0, None
    pairs = _MATCHER.knnMatch(np.ascontiguousarray(stored.descriptors), np.ascontiguousarray(query.descriptors), k=2)
    src, dst = [], []
    for pair in pairs:
        if len(pair) == 2 and pair[0].distance <= MAX_DISTANCE and pair[0].distance < RATIO * pair[1].distance:
            src.append(pair[0].queryIdx)
            dst.append(pair[0].trainIdx)
    if len(src) < 4:
        return 0.0, 0, 1.0, 0.0, 0.0, None
    a = stored.points[src].astype(np.float32)
    b = query.points[dst].astype(np.float32)
    m, mask = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX, maxIters=1000, confidence=0.995)
    if m is None or mask is None:
        return 0.0, 0, 1.0, 0.0, 0.0, None
    scale = float(math.hypot(m[0, 0], m[1, 0]))
    angle = float(math.degrees(math.atan2(m[1, 0], m[0, 0])))
    inl = mask.ravel().astype(bool)
    if not (SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] and abs(angle) <= MAX_ROTATION):
        return 0.0, int(inl.sum()), scale, angle, 0.0, None
    p = a[inl]
    cells = np.minimum(p[:, 1] * GRID // stored.canon_height, GRID - 1) * GRID + np.minimum(p[:, 0] * GRID // stored.canon_width, GRID - 1)
    counts = np.bincount(cells.astype(np.int64), minlength=GRID * GRID)
    area = float(cv2.contourArea(cv2.convexHull(p))) / (stored.canon_width * stored.canon_height) if len(p) >= 3 else 0.0
    capped = float(np.minimum(counts, CELL_CAP).sum())
    return capped * min(1.0, area / MIN_AREA), int(inl.sum()), scale, angle, area, m
