"""Tracking faces across video frames: stable ids, one-euro landmark smoothing, gap bridging,
and scene cuts.

Matching is by box overlap with each track's predicted box (Hungarian assignment), falling back
to centre distance for fast motion. Landmarks are smoothed by a one-euro filter (Casiez et al.,
CHI 2012) whose speeds are measured in face widths per second, so the same settings work for a
40 px face and a frame-filling one: at rest the cut-off frequency is low and jitter is removed;
when a point moves fast the cut-off rises and the filter stops lagging. A track whose face is
missed for up to ``max_gap`` frames is carried forward (extrapolated, ``bridged=True``); a scene
cut (a jump in the colour histogram between frames) ends every track.

``analyze_video`` is tracker-guided, as real-time swappers do it: the full detector runs only on
key frames (periodic, cuts, lost tracks) and the mesh alone follows each track in between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from likeness.faces.detection import TURNED_YAW, FaceAnalyzer, box_iou, landmark_box
from likeness.faces.pose import head_pose
from likeness.faces.types import Face, Image

MIN_CUTOFF = 1.0  # Hz: smoothing at rest
BETA = 4.0  # cut-off rise per (face width per second) of landmark speed
D_CUTOFF = 1.0  # Hz: smoothing of the speed estimate itself
SCENE_CUT_COLOUR = 0.25  # Bhattacharyya distance of HSV histograms (0 same .. 1 disjoint)
SCENE_CUT_LAYOUT = 0.5  # correlation of 32x18 grey thumbnails below which the layout changed
DETECT_EVERY = 12  # frames between two full detections in analyze_video (mesh-only tracking between)
EMPTY_SEARCH_SPEEDUP = 4  # ... and detect_every // 4 while no face is tracked


def smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Exponential smoothing factor of a first-order low-pass at ``cutoff`` Hz for step ``dt``."""
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


@dataclass
class OneEuroFilter:
    """One-euro filter over an array of points (N, D); ``scale`` converts pixels to face widths."""

    min_cutoff: float = MIN_CUTOFF
    beta: float = BETA
    d_cutoff: float = D_CUTOFF
    value: np.ndarray | None = None
    speed: np.ndarray | None = None
    time: float | None = None

    def __call__(self, points: np.ndarray, time: float, scale: float) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        if self.value is None or self.time is None or time <= self.time:
            self.value, self.speed, self.time = points.copy(), np.zeros_like(points), time
            return points
        dt = time - self.time
        raw_speed = (points - self.value) / dt
        a_d = smoothing_factor(self.d_cutoff, dt)
        self.speed = a_d * raw_speed + (1 - a_d) * self.speed
        magnitude = np.linalg.norm(self.speed, axis=-1, keepdims=True) / max(scale, 1e-6)
        a = smoothing_factor(self.min_cutoff + self.beta * magnitude, dt)
        self.value = a * points + (1 - a) * self.value
        self.time = time
        return self.value


@dataclass
class Track:
    """One followed face; mutable state owned by its ``Tracker``."""

    id: int
    face: Face
    time: float
    filter: OneEuroFilter
    missed: int = 0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre, px per second

    def predicted_box(self, time: float) -> tuple[float, float, float, float]:
        x, y, w, h = self.face.box
        dx, dy = self.velocity * max(0.0, time - self.time)
        return x + dx, y + dy, w, h


def match_cost(box: tuple, predicted: tuple) -> float:
    """0 for a perfect match .. 1 for none; centre distance rescues fast motion with no overlap."""
    iou, _ = box_iou(box, predicted)
    if iou >= 0.2:
        return 1.0 - iou
    (x, y, w, h), (px, py, pw, ph) = box, predicted
    dist = math.hypot(x + w / 2 - px - pw / 2, y + h / 2 - py - ph / 2)
    ratio = max(w, pw) / max(1e-6, min(w, pw))
    if dist < 0.6 * max(w, pw) and ratio < 1.6:
        return 0.85 + 0.1 * dist / max(w, pw)
    return 1.0


class Tracker:
    """Gives faces stable integer ids across frames, smooths landmarks, bridges short gaps.

    ``update(faces, time)`` returns the faces of this frame with ``track`` set (new ids for new
    faces, never reused) plus up to ``max_gap`` frames of bridged faces for tracks just missed.
    ``smooth=False`` keeps raw landmarks (for measuring jitter).
    """

    def __init__(
        self,
        *,
        max_gap: int = 3,
        smooth: bool = True,
        min_cutoff: float = MIN_CUTOFF,
        beta: float = BETA,
    ) -> None:
        self.max_gap = max_gap
        self.smooth = smooth
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.tracks: list[Track] = []
        self.next_id = 1

    def reset(self) -> None:
        """End every track (a scene cut): the next faces get new ids."""
        self.tracks = []

    def update(self, faces: list[Face], time: float) -> list[Face]:
        """Assign ids for one frame at ``time`` seconds; returns largest face first."""
        pairs, new_faces, missed = self.assign(faces, time)
        out: list[Face] = []
        for track, face in pairs:
            out.append(self.follow(track, face, time))
        for face in new_faces:
            track = Track(id=self.next_id, face=face, time=time, filter=self.new_filter())
            self.next_id += 1
            track.filter(face.landmarks, time, face.box[2])
            track.face = replace(face, track=track.id, bridged=False)
            self.tracks.append(track)
            out.append(track.face)
        for track in missed:
            track.missed += 1
            if track.missed <= self.max_gap:
                out.append(self.bridge(track, time))
        self.tracks = [t for t in self.tracks if t.missed <= self.max_gap]
        out.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
        return out

    def new_filter(self) -> OneEuroFilter:
        return OneEuroFilter(min_cutoff=self.min_cutoff, beta=self.beta)

    def assign(self, faces: list[Face], time: float) -> tuple[list[tuple[Track, Face]], list[Face], list[Track]]:
        """Hungarian matching of this frame's faces to live tracks."""
        if not self.tracks or not faces:
            return [], list(faces), list(self.tracks)
        cost = np.array([[match_cost(f.box, t.predicted_box(time)) for t in self.tracks] for f in faces])
        rows, cols = linear_sum_assignment(cost)
        pairs = [(self.tracks[c], faces[r]) for r, c in zip(rows, cols) if cost[r, c] < 1.0]
        matched_faces = {id(f) for _, f in pairs}
        matched_tracks = {id(t) for t, _ in pairs}
        return (
            pairs,
            [f for f in faces if id(f) not in matched_faces],
            [t for t in self.tracks if id(t) not in matched_tracks],
        )

    def follow(self, track: Track, face: Face, time: float) -> Face:
        """Continue ``track`` with a detected ``face``: smooth, update motion, return the face."""
        old = track.face
        dt = time - track.time
        if dt > 0:
            (x0, y0, w0, h0), (x1, y1, w1, h1) = old.box, face.box
            shift = np.array([x1 + w1 / 2 - x0 - w0 / 2, y1 + h1 / 2 - y0 - h0 / 2]) / dt
            track.velocity = 0.5 * track.velocity + 0.5 * shift
        landmarks = face.landmarks
        if self.smooth:
            landmarks = track.filter(face.landmarks, time, face.box[2]).astype(np.float32)
            # the box and pose follow the smoothed mesh; quality stays the detection's
            face = replace(face, landmarks=landmarks, box=smooth_box(landmarks), pose=head_pose(landmarks))
        track.face = replace(face, track=track.id, bridged=False)
        track.time = time
        track.missed = 0
        return track.face

    def bridge(self, track: Track, time: float) -> Face:
        """Carry a missed track forward by its last motion, marked ``bridged``."""
        dx, dy = track.velocity * max(0.0, time - track.time) * 0.5  # damped: it may have stopped
        landmarks = track.face.landmarks.copy()
        landmarks[:, 0] += dx
        landmarks[:, 1] += dy
        return replace(track.face, landmarks=landmarks, box=smooth_box(landmarks), bridged=True)


def smooth_box(landmarks: np.ndarray) -> tuple[int, int, int, int]:
    """Landmark box without clipping (the image size is not known here)."""
    return landmark_box(landmarks, 1 << 30, 1 << 30)


@dataclass(frozen=True, eq=False)
class FrameSignature:
    """What a scene cut is judged on: a colour histogram and a tiny normalised grey thumbnail."""

    histogram: np.ndarray
    thumbnail: np.ndarray


def frame_signature(image: Image) -> FrameSignature:
    """Signature of a frame, from a 160x90 copy (cheap at any resolution)."""
    small = cv2.resize(image, (160, 90), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [16, 8, 4], [0, 180, 0, 256, 0, 256])
    grey = cv2.cvtColor(cv2.resize(small, (32, 18), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    thumb = grey.astype(np.float64).ravel()
    thumb -= thumb.mean()
    return FrameSignature(cv2.normalize(hist, hist).flatten(), thumb / (np.linalg.norm(thumb) + 1e-9))


def is_scene_cut(previous: FrameSignature | None, current: FrameSignature) -> bool:
    """True when both the colours and the layout of the picture jump.

    Colours alone flag flashes and effects (Tears of Steel 192-204: histogram distance 0.6 with the
    layout unchanged) and miss cuts between similar shots (its frame 21: 0.39); requiring the
    layout correlation to collapse too separates them.
    """
    if previous is None:
        return False
    colour = cv2.compareHist(previous.histogram, current.histogram, cv2.HISTCMP_BHATTACHARYYA)
    layout = float(previous.thumbnail @ current.thumbnail)
    return colour > SCENE_CUT_COLOUR and layout < SCENE_CUT_LAYOUT


def analyze_video(
    frames: Iterable,
    analyzer: FaceAnalyzer,
    tracker: Tracker | None = None,
    *,
    detect_every: int = DETECT_EVERY,
) -> Iterator[tuple[object, list[Face]]]:
    """Detect and track faces frame by frame: yields (frame, faces with ``.track``).

    ``frames`` are ``likeness.media.Frame`` objects (``index``, ``time``, ``image``). The full
    detector (a tile pyramid, the expensive part) runs on the first frame, every
    ``detect_every`` frames, after a scene cut and on any frame where a track's mesh fails; on
    the other frames only the mesh runs, on a crop around each track's predicted box
    (``FaceAnalyzer.mesh_at``), so a frame costs one ~256 px mesh pass per face whatever its
    size. A face that enters without a cut is found at the next periodic detection (every
    ``detect_every // 4`` frames while no face is tracked); ``detect_every=1`` detects on every
    frame. A face in profile is followed the same way (``mesh_at(turned=True)``: mirrored and
    turned crops first). No identity embedding is computed here.
    """
    if detect_every < 1:
        raise ValueError("detect_every must be >= 1")
    tracker = tracker or Tracker()
    previous = None
    since_detection = detect_every  # frames since the last full detection: the first frame detects
    for frame in frames:
        signature = frame_signature(frame.image)
        cut = is_scene_cut(previous, signature)
        if cut:
            tracker.reset()
        previous = signature
        # with no face to follow, a frame costs (and, in a swap, renders) nothing else: look 4x as often
        every = detect_every if tracker.tracks else max(1, detect_every // EMPTY_SEARCH_SPEEDUP)
        due = cut or since_detection + 1 >= every
        found, detected = frame_faces(frame.image, analyzer, tracker, frame.time, detect=due)
        since_detection = 0 if detected else since_detection + 1
        yield frame, tracker.update(found, frame.time)


def frame_faces(
    image: Image, analyzer: FaceAnalyzer, tracker: Tracker, time: float, *, detect: bool
) -> tuple[list[Face], bool]:
    """One frame's faces, before tracking, and whether the full detector ran.

    Without ``detect``, ``FaceAnalyzer.mesh_at`` (mesh on a crop, then one local detector pass)
    follows every track; when it loses one (the face left, turned away or was covered) the full
    detector runs on this frame, once per loss: while the track stays lost the tracker bridges
    it. With the detector, tracks it missed are still followed, so a face the pyramid drops for
    a frame keeps its track as long as ``mesh_at`` still finds a face there.
    """
    followed: list[Face] = []
    if not detect:
        for track in tracker.tracks:
            face = analyzer.mesh_at(image, track.predicted_box(time), score=track.face.score, turned=is_turned(track.face))
            if face is not None:
                followed.append(face)
            elif track.missed == 0:  # just lost: look everywhere once; while it stays lost, the tracker bridges it
                detect = True
        if not detect and len(merge_faces([], followed, analyzer.max_faces)) == len(followed):
            return followed, False  # (a shorter list: two tracks collapsed onto one face)
    detected = analyzer.detect(image)
    if not followed:  # a scheduled detection: follow only the tracks it missed
        for track in tracker.tracks:
            expected = track.predicted_box(time)
            if not any(box_iou(expected, face.box)[0] > 0.3 for face in detected):
                face = analyzer.mesh_at(image, expected, score=track.face.score, turned=is_turned(track.face))
                if face is not None:
                    followed.append(face)
    return merge_faces(detected, followed, analyzer.max_faces), True


def is_turned(face: Face) -> bool:
    """Whether a track's face was last seen in profile, where the mesh wants the turned framings."""
    return abs(face.pose.yaw) >= TURNED_YAW


def merge_faces(detected: list[Face], followed: list[Face], max_faces: int) -> list[Face]:
    """Detections plus the followed faces that no detection covers, largest first, capped."""
    kept = list(detected)
    for face in followed:
        if all(box_iou(face.box, other.box)[0] <= 0.4 and box_iou(face.box, other.box)[1] <= 0.7 for other in kept):
            kept.append(face)
    kept.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
    return kept[:max_faces]
