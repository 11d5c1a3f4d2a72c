"""What covers a face: spectacle frames, hands, hair over the forehead.

The swap engine keeps these pixels from the target (its composite mask is 0 there, feathered)
and leaves them out of a source crop at enrolment, so a target's glasses stay in front of the
swapped face and a source's glasses or fringe are not pasted onto someone else.

All functions take an RGB uint8 image (``Image``) and mediapipe's 478 landmarks in its pixels.
Masks come as ``Occluders``: a box of the image and a uint8 mask over that box only (255 where
something covers the face), so a 720p frame costs what its face costs.

Glasses are found in a canonical patch of the eye region (eye centres 40 px apart), from two
cues skin does not give together: a closed ring of strong edges around each eye (the rims; the
sector above the eye is left out of the score, brows give edges there with or without glasses)
and a continuous horizontal edge across the bridge of the nose. Both are best paths found by
dynamic programming, so a wrinkle or a crease that is strong but short does not count; the same
paths, mapped back to the image and thickened, are the frames' mask. Faces turned past
``GLASSES_MAX_YAW`` or tilted past ``GLASSES_MAX_PITCH`` are not judged (score nan): the far
eye's ring and the bridge are foreshortened there and the cues confuse brows with rims.

Hair is told from skin by a colour model (Lab mean and covariance) learnt from the face's own
cheeks; the swap engine uses the same model on its source crops and on the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.faces.pose import head_pose
from likeness.faces.quiet import QuietWarmup
from likeness.faces.types import Image, Landmarks

Mask = NDArray[np.uint8]  # (h, w), 255 where something covers the face

# mediapipe face mesh indices, copied from likeness.swap.mesh (faces may not import swap)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39,
              40, 185)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 129, 358, 48, 278, 64, 294, 219, 439)
CHEEKS = (50, 101, 205, 280, 330, 425)  # cheek apples, well inside the oval
RIGHT_INNER_CORNER, LEFT_INNER_CORNER = 133, 362

# Glasses: canonical patch and the cues' units, set on the shared media (score = sum of the cues
# in their units / GLASSES_THRESHOLD): the three syn_t2i_down_glasses faces score 1.21-2.85 and
# tears_of_steel frame 160 1.22; the seven SFHQ stills at most 0.82, the astronaut 0.53, the
# bare-faced tears_of_steel frame 230 0.84. A thin margin on few faces: widen it with more media.
UNIT = 40  # eye centres this many pixels apart in the canonical patch
PATCH = (112, 80)  # its width, height; the right eye's centre sits at (36, 36)
RING_ANGLES = 48
RING_UNIT = 0.12  # ring cue: log-intensity edge, 30th percentile round both rings
BRIDGE_UNIT = 0.125  # bridge cue: 25th percentile along the path
GLASSES_THRESHOLD = 1.85  # sum of the two cues in their units at which frames are "present"
GLASSES_MAX_YAW = 35.0
GLASSES_MAX_PITCH = 25.0

SKIN_THRESHOLD = 16.0  # squared Mahalanobis distance (3 dof) past which a pixel is not skin
HAIR_WORK_WIDTH = 160  # the hair model runs with the face about this wide (pixels)


@dataclass(frozen=True, eq=False)
class Occluders:
    """A mask of what covers the face over one box of the image; 0 outside the box."""

    box: tuple[int, int, int, int]  # x, y, w, h in image pixels
    mask: Mask  # (h, w) uint8, 255 over an occluder

    @property
    def empty(self) -> bool:
        return not self.mask.any()

    def over(self, x: int, y: int, w: int, h: int) -> Mask:
        """The mask on another box of the same image (the engine's crop), 0 where this one is not."""
        out = np.zeros((h, w), np.uint8)
        bx, by, bw, bh = self.box
        x0, y0 = max(x, bx), max(y, by)
        x1, y1 = min(x + w, bx + bw), min(y + h, by + bh)
        if x1 > x0 and y1 > y0:
            out[y0 - y:y1 - y, x0 - x:x1 - x] = self.mask[y0 - by:y1 - by, x0 - bx:x1 - bx]
        return out

    def full(self, height: int, width: int) -> Mask:
        """The mask over the whole image."""
        return self.over(0, 0, width, height)


def nothing() -> Occluders:
    return Occluders((0, 0, 0, 0), np.zeros((0, 0), np.uint8))


def union(*parts: Occluders) -> Occluders:
    """One mask over the box that holds all the non-empty parts (their maximum)."""
    parts = tuple(p for p in parts if p.mask.size and not p.empty)
    if not parts:
        return nothing()
    x0 = min(p.box[0] for p in parts)
    y0 = min(p.box[1] for p in parts)
    x1 = max(p.box[0] + p.box[2] for p in parts)
    y1 = max(p.box[1] + p.box[3] for p in parts)
    box = (x0, y0, x1 - x0, y1 - y0)
    return Occluders(box, np.maximum.reduce([p.over(*box) for p in parts]))


@dataclass(frozen=True, eq=False)
class GlassesFinding:
    """Whether spectacle frames are on the face; ``frames`` covers their rims (empty if absent).

    ``score`` is 1.0 at the decision threshold (higher: more certain), nan where the pose was
    too far from frontal to judge.
    """

    present: bool
    score: float
    frames: Occluders


# -- geometry --------------------------------------------------------------------------------

def face_box(landmarks: Landmarks, shape: tuple[int, ...], grow: float = 0.0) -> tuple[int, int, int, int]:
    """x, y, w, h of the landmarks' box widened by ``grow`` of its size on each side, in the image."""
    pts = np.asarray(landmarks, np.float32)[:, :2]
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    gx, gy = (x1 - x0) * grow, (y1 - y0) * grow
    h, w = shape[:2]
    x0, y0 = max(0, int(math.floor(x0 - gx))), max(0, int(math.floor(y0 - gy)))
    x1, y1 = min(w, int(math.ceil(x1 + gx))), min(h, int(math.ceil(y1 + gy)))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def eye_frame(landmarks: Landmarks) -> NDArray[np.float64]:
    """The 2x3 similarity from image pixels to the canonical eye patch."""
    pts = np.asarray(landmarks, np.float64)[:, :2]
    right, left = pts[list(RIGHT_EYE)].mean(0), pts[list(LEFT_EYE)].mean(0)
    axis = left - right
    d = max(float(np.hypot(*axis)), 1e-6)
    u = axis / d
    s = UNIT / d
    a = np.array([[u[0] * s, u[1] * s, 0.0], [-u[1] * s, u[0] * s, 0.0]])
    a[:, 2] = np.array([0.9 * UNIT, 0.9 * UNIT]) - a[:, :2] @ right
    return a


def best_path(cost: NDArray[np.float32], *, step: int = 1, closed: bool = False) -> NDArray[np.int64]:
    """Row per column of the path of highest summed ``cost`` moving at most ``step`` rows a column.

    ``closed``: the columns wrap round (a ring in polar coordinates); the path is taken from a
    second turn, so its two ends nearly meet.
    """
    h, w = cost.shape
    cols = np.r_[np.arange(w), np.arange(w)] if closed else np.arange(w)
    acc = cost[:, cols[0]].astype(np.float64)
    back = np.zeros((h, len(cols)), np.int64)
    rows = np.arange(h)
    pad = np.full(step, -1e18)
    for i in range(1, len(cols)):
        padded = np.concatenate([pad, acc, pad])
        shifts = np.stack([padded[k:k + h] for k in range(2 * step + 1)])
        k = shifts.argmax(0)
        back[:, i] = rows + k - step
        acc = shifts[k, rows] + cost[:, cols[i]]
    y = int(acc.argmax())
    path = [y]
    for i in range(len(cols) - 1, 0, -1):
        y = int(back[y, i])
        path.append(y)
    path = np.array(path[::-1])
    return path[w:] if closed else path


def _ring(gx, gy, centre, eye, nose_side: int) -> tuple[float, NDArray[np.float64]]:
    """Score and points (canonical) of the strongest closed edge loop a little outside one eye."""
    theta = np.linspace(0, 2 * np.pi, RING_ANGLES, endpoint=False)  # 0: image right, pi/2: down
    d = eye - centre
    angles, radii = np.arctan2(d[:, 1], d[:, 0]), np.hypot(d[:, 0], d[:, 1])
    order = np.argsort(angles)
    inner = np.interp(theta, angles[order], radii[order], period=2 * np.pi) + 0.10 * UNIT
    cos, sin = np.cos(theta), np.sin(theta)
    ax = np.where(cos * nose_side > 0, 0.55 * UNIT, 0.8 * UNIT)  # the bridge side is nearer
    ay = np.where(sin > 0, 0.85 * UNIT, 0.6 * UNIT)
    outer = np.maximum(1 / np.sqrt((cos / ax) ** 2 + (sin / ay) ** 2), inner + 2)
    r = np.arange(int(0.9 * UNIT), dtype=np.float32)
    mx = (centre[0] + cos[None, :] * r[:, None]).astype(np.float32)
    my = (centre[1] + sin[None, :] * r[:, None]).astype(np.float32)
    px = cv2.remap(gx, mx, my, cv2.INTER_LINEAR)
    py = cv2.remap(gy, mx, my, cv2.INTER_LINEAR)
    radial = np.abs(px * cos + py * sin)  # a rim's edge runs round the eye
    radial = np.where((r[:, None] >= inner) & (r[:, None] <= outer), radial, -1.0)
    path = best_path(radial, step=2, closed=True)
    values = radial[path, np.arange(RING_ANGLES)]
    deg = np.degrees(np.arctan2(sin, cos))
    below_brow = ~((deg > -150) & (deg < -30))
    points = np.c_[centre[0] + cos * r[path], centre[1] + sin * r[path]]
    return float(np.quantile(values[below_brow], 0.3)), points


def _bridge(gy, p) -> tuple[float, NDArray[np.float64]]:
    """Score and points (canonical) of the strongest continuous horizontal edge over the nose."""
    a, b = p[RIGHT_INNER_CORNER, 0], p[LEFT_INNER_CORNER, 0]
    mid, half = (a + b) / 2, max((b - a) / 4, 2.0)
    x0, x1 = int(mid - half), int(math.ceil(mid + half))
    y0, y1 = int(0.9 * UNIT - 0.45 * UNIT), int(0.9 * UNIT + 0.15 * UNIT)
    x0, x1 = max(0, x0), min(PATCH[0], x1)
    band = gy[y0:y1, x0:x1]
    if band.shape[1] < 2:
        return 0.0, np.zeros((0, 2))
    path = best_path(band)
    values = band[path, np.arange(band.shape[1])]
    return float(np.quantile(values, 0.25)), np.c_[np.arange(x0, x1), path + y0].astype(np.float64)


def glasses(image: Image, landmarks: Landmarks) -> GlassesFinding:
    """Spectacle frames on the face, and a mask over their rims and bridge (dilated a little).

    The mask leaves out the temple arms (they lie outside the face oval on a frontal face).
    """
    pts = np.asarray(landmarks, np.float32)[:478]
    pose = head_pose(pts)
    if abs(pose.yaw) > GLASSES_MAX_YAW or abs(pose.pitch) > GLASSES_MAX_PITCH:
        return GlassesFinding(False, float("nan"), nothing())
    a = eye_frame(pts)
    # The patch is small; only the eye region's box is converted and warped.
    inv = cv2.invertAffineTransform(a)
    corners = np.array([[0, 0, 1], [PATCH[0], 0, 1], [0, PATCH[1], 1], [PATCH[0], PATCH[1], 1]], np.float64) @ inv.T
    bx, by, bw, bh = face_box(corners, image.shape)
    if bw < 4 or bh < 4:
        return GlassesFinding(False, 0.0, nothing())
    shifted = a.copy()
    shifted[:, 2] += a[:, :2] @ np.array([bx, by], np.float64)
    colour = cv2.warpAffine(np.ascontiguousarray(image[by:by + bh, bx:bx + bw]), shifted, PATCH,
                            flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    patch = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
    # Log intensity: an edge's strength does not depend on exposure.
    log = cv2.GaussianBlur(np.log(patch.astype(np.float32) + 8.0), (0, 0), 0.8)
    gx = cv2.Sobel(log, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(log, cv2.CV_32F, 0, 1, ksize=3) / 8
    p = np.c_[pts[:, :2], np.ones(len(pts))] @ a.T
    rings = []
    for loop, nose_side in ((RIGHT_EYE, 1), (LEFT_EYE, -1)):
        eye = p[list(loop)]
        rings.append(_ring(gx, gy, eye.mean(0), eye, nose_side))
    bridge_score, bridge_pts = _bridge(np.abs(gy), p)
    ring_score = (rings[0][0] + rings[1][0]) / 2
    score = (ring_score / RING_UNIT + bridge_score / BRIDGE_UNIT) / GLASSES_THRESHOLD
    if score < 1.0:
        return GlassesFinding(False, float(score), nothing())
    return GlassesFinding(True, float(score), _frames_mask(image.shape, inv, [r[1] for r in rings], bridge_pts))


def _frames_mask(shape, inv, rings, bridge) -> Occluders:
    """The found rims and bridge drawn in image pixels, thickened to cover the frames."""
    scale = float(np.hypot(*inv[:, 0]))  # image pixels per canonical pixel
    loops = [np.c_[r, np.ones(len(r))] @ inv.T for r in rings]
    line = np.c_[bridge, np.ones(len(bridge))] @ inv.T if len(bridge) else np.zeros((0, 2))
    everything = np.concatenate(loops + [line])
    pad = int(math.ceil(0.12 * UNIT * scale)) + 2
    x0, y0 = np.floor(everything.min(0)).astype(int) - pad
    x1, y1 = np.ceil(everything.max(0)).astype(int) + pad
    h, w = shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return nothing()
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    thick = max(2, int(round(0.16 * UNIT * scale)))  # the rims' width plus the path's wander
    offset = np.array([x0, y0])
    for loop in loops:
        cv2.polylines(mask, [np.round((loop - offset) * 16).astype(np.int32)], True, 255, thick, cv2.LINE_AA, shift=4)
    if len(line):
        # the bridge joins the two rims: from the right ring's nearest point to the left's
        ends = [loops[0][np.argmin(np.hypot(*(loops[0] - line[0]).T))], loops[1][np.argmin(np.hypot(*(loops[1] - line[-1]).T))]]
        bridge_line = np.concatenate([[ends[0]], line, [ends[1]]])
        cv2.polylines(mask, [np.round((bridge_line - offset) * 16).astype(np.int32)], False, 255, thick, cv2.LINE_AA, shift=4)
    mask = np.where(mask > 64, 255, 0).astype(np.uint8)
    return Occluders((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), mask)


# -- hair over the forehead -------------------------------------------------------------------

def hair(image: Image, landmarks: Landmarks) -> Occluders:
    """Pixels of the upper face (inside the oval, above the eyes) far from the cheeks' skin colour.

    Brows, eyes and the nose are never counted; specks (freckles, highlights) are opened away.
    Empty where the cheeks give no usable colour model.
    """
    pts = np.asarray(landmarks, np.float32)[:478, :2]
    oval = pts[list(FACE_OVAL)]
    eyes_y = float(pts[list(RIGHT_EYE) + list(LEFT_EYE), 1].mean())
    x, y, w, full_h = face_box(oval, image.shape)
    h = max(0, min(full_h, int(math.ceil(eyes_y)) - y))
    extent = float(np.ptp(oval[:, 0]))
    if w < 8 or h < 8 or extent < 8:
        return nothing()
    # Everything runs with the face HAIR_WORK_WIDTH wide: a 512 px face costs what a 160 px one does.
    s = min(1.0, HAIR_WORK_WIDTH / extent)
    crop = np.ascontiguousarray(image[y:y + full_h, x:x + w])
    small = cv2.resize(crop, (max(1, round(w * s)), max(1, round(full_h * s))), interpolation=cv2.INTER_AREA) if s < 1 else crop
    lab_all = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    local = (pts - np.array([x, y], np.float32)) * s
    model = _skin_model(lab_all, local, extent * s)
    if model is None:
        return nothing()
    mean, inv = model
    top = max(1, min(lab_all.shape[0], round(h * s)))
    lab = lab_all[:top] - mean
    d2 = ((lab @ inv) * lab).sum(-1)
    off = (d2 > SKIN_THRESHOLD).astype(np.uint8) * 255
    inside = np.zeros(off.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(local[list(FACE_OVAL)] * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    e = extent * s
    # The oval's edge is where hair meets the face anyway (the engine's mask stops short of it).
    inside = cv2.erode(inside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max(3, int(e * 0.06)) | 1,) * 2))
    features = np.zeros(off.shape, np.uint8)
    # Brow and eye together: the lids and their shadow lie between them.
    for loop in (RIGHT_BROW + RIGHT_EYE, LEFT_BROW + LEFT_EYE, NOSE):
        cv2.fillConvexPoly(features, cv2.convexHull(np.round(local[list(loop)]).astype(np.int32)), 255)
    grow = max(3, int(round(e * 0.04))) | 1
    features = cv2.dilate(features, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    k = max(3, int(round(e * 0.02))) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    off = cv2.morphologyEx(off, cv2.MORPH_OPEN, kernel)
    off = cv2.morphologyEx(off, cv2.MORPH_CLOSE, kernel)
    off = cv2.dilate(off, kernel)
    off[(features > 0) | (inside == 0)] = 0
    if s < 1:
        off = cv2.resize(off, (w, h), interpolation=cv2.INTER_LINEAR)
        off = np.where(off > 127, 255, 0).astype(np.uint8)
    return Occluders((x, y, w, h), off)


def _skin_model(lab: NDArray[np.float32], pts, extent: float) -> tuple[NDArray[np.float32], NDArray[np.float32]] | None:
    """Lab mean and inverse covariance of the cheeks' skin (discs round CHEEKS), refit on inliers."""
    discs = np.zeros(lab.shape[:2], np.uint8)
    for i in CHEEKS:
        cv2.circle(discs, tuple(int(round(v)) for v in pts[i]), max(2, int(extent * 0.05)), 255, -1)
    sample = lab[discs > 0]
    if len(sample) < 50:
        return None
    for _ in range(2):  # robust: a strand or a shadow over a cheek is refit away
        mean = sample.mean(0)
        cov = np.cov(sample.T) + np.diag([9.0, 4.0, 4.0])  # floor: shading and noise on clean skin
        inv = np.linalg.inv(cov).astype(np.float32)
        ds = sample - mean
        inliers = sample[np.einsum("ij,jk,ik->i", ds, inv, ds) < 9.0]
        if len(inliers) < 50:
            return None
        sample = inliers
    return mean.astype(np.float32), inv


def hair_fraction(found: Occluders, landmarks: Landmarks) -> float:
    """Share of the upper face (inside the oval, above the eye line) that ``found`` covers."""
    pts = np.asarray(landmarks, np.float32)[:478, :2]
    x, y, w, h = found.box
    if not found.mask.size:
        return 0.0
    upper = np.zeros((h, w), np.uint8)
    cv2.fillPoly(upper, [np.round(pts[list(FACE_OVAL)] - np.array([x, y])).astype(np.int32)], 255)
    area = int(np.count_nonzero(upper))
    return float(np.count_nonzero(found.mask & upper)) / area if area else 0.0


# -- hands --------------------------------------------------------------------------------------

PALM = (0, 1, 5, 9, 13, 17)
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
HAND_CONTEXT = 1.0  # the hand model sees the face box widened by this much of its size per side


class HandFinder:
    """Owns mediapipe's hand landmark model (legacy solution, shipped in the wheel); one per thread.

    ``video=True`` lets the model track hands from one call to the next (cheaper, steadier on a
    video's frames in order); leave it off for unrelated stills. Loads on first use; ``close()``
    or the ``with`` block releases it.
    """

    def __init__(self, *, video: bool = False, max_hands: int = 2, min_score: float = 0.5) -> None:
        self.video = video
        self.max_hands = max_hands
        self.min_score = min_score
        self._model: Any = None

    def __enter__(self) -> "HandFinder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
        self._model = None

    @property
    def model(self) -> Any:
        if self._model is None:
            from likeness.faces.mediapipe_loader import solutions

            self._model = QuietWarmup(lambda: solutions().hands.Hands(
                static_image_mode=not self.video, max_num_hands=self.max_hands,
                model_complexity=1, min_detection_confidence=self.min_score))
        return self._model

    def landmarks(self, image: Image, face_box: tuple[int, int, int, int]) -> list[NDArray[np.float32]]:
        """Each hand's 21 points (x, y in image pixels) seen around ``face_box`` (x, y, w, h)."""
        x, y, w, h = face_box
        H, W = image.shape[:2]
        x0, y0 = max(0, int(x - w * HAND_CONTEXT)), max(0, int(y - h * HAND_CONTEXT))
        x1, y1 = min(W, int(x + w * (1 + HAND_CONTEXT))), min(H, int(y + h * (1 + HAND_CONTEXT)))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return []
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        result = self.model.process(crop)
        hands = []
        for hand in result.multi_hand_landmarks or ():
            p = np.array([(lm.x * (x1 - x0) + x0, lm.y * (y1 - y0) + y0) for lm in hand.landmark], np.float32)
            hands.append(p)
        return hands

    def find(self, image: Image, face_box: tuple[int, int, int, int]) -> Occluders:
        """The hands over ``face_box``: palm polygon and thick finger bones, dilated, cut to the box."""
        x, y, w, h = (int(v) for v in face_box)
        H, W = image.shape[:2]
        x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
        if x1 <= x0 or y1 <= y0:
            return nothing()
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        for p in self.landmarks(image, face_box):
            draw_hand(mask, p - np.array([x0, y0], np.float32))
        return Occluders((x0, y0, x1 - x0, y1 - y0), mask)


def draw_hand(mask: Mask, p: NDArray[np.float32]) -> None:
    """Paint one hand (21 points in mask pixels): the landmarks sit on the bones, so the fingers
    are drawn as thick lines and the palm filled, then grown by a margin for the skin round them."""
    palm_width = float(np.hypot(*(p[5] - p[17])))
    finger = max(3, int(round(palm_width * 0.45)))
    cv2.fillPoly(mask, [np.round(cv2.convexHull(p[list(PALM)])).astype(np.int32)], 255)
    for bones in FINGERS:
        chain = p[[0, *bones]] if bones[0] == 1 else p[list(bones)]
        cv2.polylines(mask, [np.round(chain).astype(np.int32)], False, 255, finger)
    grow = max(3, int(round(palm_width * 0.15))) | 1
    cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)), dst=mask)


# -- what the engine calls ----------------------------------------------------------------------

OCCLUDER_KINDS = ("glasses", "hair", "hands")


def occluder_parts(image: Image, landmarks: Landmarks, kinds: tuple[str, ...] | list[str] = OCCLUDER_KINDS, *,
                   hands: HandFinder | None = None) -> dict[str, Occluders]:
    """What covers the face, kind by kind (only the ``kinds`` asked for): spectacle ``glasses``
    frames, ``hair`` over the forehead, and ``hands`` when a ``HandFinder`` (owned by the caller,
    loaded once) is given. A caller that looks for some kinds less often asks for fewer."""
    pts = np.asarray(landmarks, np.float32)[:478]
    found: dict[str, Occluders] = {}
    if "glasses" in kinds:
        found["glasses"] = glasses(image, pts).frames
    if "hair" in kinds:
        found["hair"] = hair(image, pts)
    if "hands" in kinds and hands is not None:
        found["hands"] = hands.find(image, face_box(pts, image.shape, grow=0.05))
    return found


def target_occluders(image: Image, landmarks: Landmarks, *, hands: HandFinder | None = None) -> Occluders:
    """What covers a target face and must stay in front of the swap: frames, hands, hair.

    The engine sets its composite mask to 0 there (feathered), keeping the target's pixels.
    ``hands`` (owned by the caller, loaded once) adds hands over the face; without it, none.
    """
    return union(*occluder_parts(image, landmarks, hands=hands).values())


def source_occluders(image: Image, landmarks: Landmarks) -> tuple[Occluders, dict[str, Any]]:
    """What covers an enrolment crop and must not be pasted onto a target, and flags for its report.

    flags: ``glasses`` (bool), ``glasses_score`` (float, 1.0 at the threshold; nan where not
    judged), ``hair`` (share of the upper face covered, 0..1).
    """
    pts = np.asarray(landmarks, np.float32)[:478]
    found = glasses(image, pts)
    strands = hair(image, pts)
    score = found.score if math.isnan(found.score) else round(found.score, 3)
    flags = {"glasses": found.present, "glasses_score": score, "hair": round(hair_fraction(strands, pts), 3)}
    return union(found.frames, strands), flags
