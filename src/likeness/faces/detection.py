"""Face detection and the 478-point mesh: ``FaceAnalyzer``, the object that owns the models.

Pipeline per image:

1. mediapipe's full-range detector (``model_selection=1``) on the whole image and, for images
   much larger than the smallest wanted face, on overlapping tiles of a pyramid (the detector sees
   a 192 px input, so a 40 px face in a 1080p frame would shrink to ~4 px without tiling; each
   window costs one ~3 ms detector pass whatever its size, so the pyramid is laid out for the
   fewest windows: 12 at 720p, 19 at 1080p); plus
   the short-range detector on the whole image, because the full-range one misses faces that fill
   most of the frame (syn_motion frames 57-59: 90% of the width);
2. non-maximum suppression of the detections (tiles overlap, levels repeat faces);
3. the face mesh (``refine_landmarks=True``: 468 + 10 iris points) on a square crop around each
   detection, mapped back to image pixels; a mesh that fails or lands away from its detection is
   dropped (it was a false detection or a face too turned to measure);
4. a second look for the faces mediapipe misses: YuNet (libfacedetection, the ``yuface`` wheel,
   weights compiled into it) once on the whole image shrunk to ``SECOND_SIDE``; each of its faces
   that no mesh of step 3 covers gets the mesh under ``TURNED_FRAMINGS`` (mirrored, tighter,
   turned in-plane crops: mediapipe's in-crop finder misses profiles at the plain framing, e.g.
   syn_t2i_profile_SDXL_image_0015989, but sees them mirrored), kept only where the mesh's eyes,
   nose and mouth corners fall on YuNet's five points;
5. a second suppression on the mesh boxes, then pose and quality, largest face first.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import yuface

from likeness.errors import InputError
from likeness.faces.identity import compute_embedding, load_recognizer
from likeness.faces.mediapipe_loader import solutions
from likeness.faces.mirror import MIRROR
from likeness.faces.pose import head_pose
from likeness.faces.quality import quality
from likeness.faces.quiet import QuietWarmup
from likeness.faces.types import Embedding, Face, Image, Landmarks

MESH_INPUT = 256  # side of the square crop handed to the mesh
CROP_SCALE = 2.0  # crop side relative to the detector's box (the mesh wants context)
FOLLOW_CROP_SCALES = (2.0, 2.5, 1.6)  # mesh_at's framings, tried in turn until the mesh sees a face
DETECTOR_REACH = 10  # the detector finds faces down to ~1/10 of the side of what it is shown
TILE_OVERLAP = 0.25
FIT_FROM = 2.5  # frames this many finest windows across (1000 px for min_face 40) get the fitted finest level
SECOND_SIDE = 320  # YuNet sees the image at most this long: ~10 ms on one core, and faces from ~12 px
SECOND_MIN_SCORE = 0.7  # YuNet's own false hits inside a large face score 0.5-0.55, faces 0.88-0.94
AGREE = 0.1  # a second-look mesh's median distance to YuNet's five points, in face sizes (good: 0.02-0.07)
TURNED_YAW = 50.0  # a track last seen turned this far (degrees) is followed with TURNED_FRAMINGS first
# mesh points at YuNet's five: the eye on the image's left, the other eye, nose tip, mouth corners
FIVE_POINTS = (468, 473, 1, 61, 291)

# mediapipe's solutions, without its package __init__ (matplotlib, the tasks API): loaded here,
# before anything else in the process can `import mediapipe.python.solutions.<x>` and so run it.
solutions()


@dataclass(frozen=True)
class Framing:
    """How the mesh's crop is laid out around a box: side in box sizes, in-plane turn in degrees
    (counter-clockwise, as ``cv2.getRotationMatrix2D``), and whether it is mirrored."""

    scale: float = CROP_SCALE
    angle: float = 0.0
    mirror: bool = False


# Tried in turn on a face the plain framing missed; measured on the syn_t2i profiles and their
# mirror images. Mirroring and a 25 degree turn come in pairs (a turn and its mirror image).
TURNED_FRAMINGS = (
    Framing(2.0, mirror=True),
    Framing(1.6),
    Framing(1.6, mirror=True),
    Framing(2.0, -25.0),
    Framing(2.0, 25.0, mirror=True),
    Framing(2.0, 25.0),
    Framing(2.0, -25.0, mirror=True),
)


@dataclass(frozen=True)
class Detection:
    """A detector hit before the mesh: box (x, y, w, h) in image pixels and confidence; YuNet's
    hits also carry its five points (x, y) in the order of ``FIVE_POINTS``."""

    box: tuple[float, float, float, float]
    score: float
    points: tuple[tuple[float, float], ...] | None = None


def check_image(image: Image) -> np.ndarray:
    """Refuse anything but an RGB uint8 (H, W, 3) array with one clear message."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"face analysis needs an RGB uint8 (H, W, 3) image, got {arr.dtype} {arr.shape}")
    if min(arr.shape[:2]) < 16:
        raise InputError(f"image of {arr.shape[1]}x{arr.shape[0]} px is too small to hold a face")
    return np.ascontiguousarray(arr)


def tile_windows(height: int, width: int, min_face: int) -> Iterator[tuple[int, int, int]]:
    """Square windows (x, y, side) of a pyramid: the whole image, then halves, quarters ... while
    a window is still larger than what a ``min_face`` face needs to be seen by the detector."""
    long_side, short_side = max(height, width), min(height, width)
    yield 0, 0, long_side
    smallest = max(192, min_face * DETECTOR_REACH)
    side = long_side // 2
    while side >= smallest * 0.75:
        if side < smallest and long_side >= FIT_FROM * smallest:
            # halving overshot on a big frame (720p: 15 windows of 320 px for faces that 400 px
            # windows see): the finest level is the fewest windows of at most 1.2x that size
            # (8 of 412 px at 720p; 1080p keeps its 15 of 480). Small images keep the finer
            # halving: it is cheap there and finds faces below min_face (the 35 px class group).
            grown = fitted_side(height, width, smallest * 1.2)
        else:
            # a window a little shorter than the frame needs a second row that overlaps the first
            # almost entirely (16:9 at half width: 960 px windows on 1080 rows); one row of
            # windows as tall as the frame sees the same faces with half the detector passes
            # (not on the finest level, which would see less)
            finest = side // 2 < smallest * 0.75
            grown = short_side if side < short_side <= side * 1.25 and not finest else side
        step = grown * (1 - TILE_OVERLAP)
        for y in window_starts(height, grown, step):
            for x in window_starts(width, grown, step):
                yield x, y, grown
        side //= 2


def fitted_side(height: int, width: int, largest: float) -> int:
    """Side of the fewest overlapping square windows, none over ``largest``, that tile the frame."""
    def count(length: int) -> int:  # windows along one axis: side + (n - 1) * step >= length
        return max(1, math.ceil((length / largest - 1) / (1 - TILE_OVERLAP)) + 1)

    def span(length: int, n: int) -> float:  # the smallest side that n windows need
        return length / (1 + (n - 1) * (1 - TILE_OVERLAP))

    return math.ceil(max(span(width, count(width)), span(height, count(height))))


def window_starts(length: int, side: int, step: float) -> list[int]:
    """Evenly spaced starts of windows of ``side`` covering ``length`` with at most ``step`` apart."""
    if length <= side:
        return [0]
    count = math.ceil((length - side) / step) + 1
    return [round(v) for v in np.linspace(0, length - side, count)]


def box_iou(a: tuple, b: tuple) -> tuple[float, float]:
    """(intersection over union, intersection over the smaller box) of two x, y, w, h boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0, inter / max(1e-9, min(aw * ah, bw * bh))


def suppress(items: list, key_box, key_score, *, iou: float = 0.3, cover: float = 0.6) -> list:
    """Greedy non-maximum suppression: keep the best-scored item of each overlapping group."""
    kept: list = []
    for item in sorted(items, key=key_score, reverse=True):
        if all(
            (lambda o: o[0] <= iou and o[1] <= cover)(box_iou(key_box(item), key_box(k))) for k in kept
        ):
            kept.append(item)
    return kept


def landmark_box(landmarks: Landmarks, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer x, y, w, h box enclosing the landmarks, clipped to the image."""
    x0, y0 = np.floor(landmarks[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(landmarks[:, :2].max(axis=0)).astype(int)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(width, int(x1)), min(height, int(y1))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


class FaceAnalyzer:
    """Owns the mediapipe detector and mesh and the dlib descriptor; use one per thread.

    ``min_face`` (pixels) sizes the tiling so that faces of that width are found in large frames;
    smaller faces are still reported when the detector sees them. ``max_faces`` caps the result
    (largest kept). Models load on first use and are released by ``close()`` or the ``with`` block.
    """

    def __init__(self, *, max_faces: int = 16, min_face: int = 40, min_score: float = 0.5) -> None:
        if max_faces < 1 or min_face < 8:
            raise ValueError("max_faces must be >= 1 and min_face >= 8")
        self.max_faces = max_faces
        self.min_face = min_face
        self.min_score = min_score
        self._detector = None
        self._near_detector = None
        self._mesh = None
        self._recognizer = None
        self._yunet: Callable | None = None

    def __enter__(self) -> "FaceAnalyzer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the models; the analyzer reloads them if used again."""
        for model in (self._detector, self._near_detector, self._mesh):
            if model is not None:
                model.close()
        self._detector = self._near_detector = self._mesh = self._recognizer = self._yunet = None

    # -- models, loaded on first use and owned by this object -----------------------------------
    # Each is created, and first run, with the native log lines of its start-up silenced
    # (likeness.faces.quiet; LIKENESS_DEBUG=1 shows them).
    @property
    def detector(self):
        if self._detector is None:
            self._detector = QuietWarmup(
                lambda: solutions().face_detection.FaceDetection(model_selection=1, min_detection_confidence=self.min_score)
            )
        return self._detector

    @property
    def near_detector(self):
        if self._near_detector is None:
            self._near_detector = QuietWarmup(
                lambda: solutions().face_detection.FaceDetection(model_selection=0, min_detection_confidence=self.min_score)
            )
        return self._near_detector

    @property
    def mesh(self):
        if self._mesh is None:
            self._mesh = QuietWarmup(
                lambda: solutions().face_mesh.FaceMesh(
                    static_image_mode=True, max_num_faces=2, refine_landmarks=True, min_detection_confidence=0.3
                ),
                settled=lambda result: bool(result.multi_face_landmarks),  # landmark projection warns on its first face
            )
        return self._mesh

    @property
    def yunet(self) -> Callable:
        if self._yunet is None:
            self._yunet = yunet_on_one_thread()
        return self._yunet

    @property
    def recognizer(self):
        if self._recognizer is None:
            self._recognizer = load_recognizer()
        return self._recognizer

    # -- public -----------------------------------------------------------------------------------
    def load(self) -> "FaceAnalyzer":
        """Load every model now and run each mediapipe graph once, on a blank image.

        For a process that stays resident (the studio worker): its first job then finds the graphs
        built and their first, slower calls made, instead of paying for them itself.
        """
        blank = np.zeros((MESH_INPUT, MESH_INPUT, 3), np.uint8)
        for model in (self.detector, self.near_detector, self.mesh):
            model.process(blank)
        self.yunet(blank)
        self.recognizer  # noqa: B018 - loading it is the point
        return self

    @property
    def loaded(self) -> bool:
        """Whether every model is in memory (after :meth:`load`, or once each was used)."""
        return None not in (self._detector, self._near_detector, self._mesh, self._yunet, self._recognizer)

    def detect(self, image: Image) -> list[Face]:
        """Every face in ``image``, largest first, with 478 landmarks, pose and quality."""
        image = check_image(image)
        height, width = image.shape[:2]
        detections = suppress(self.find_boxes(image), lambda d: d.box, lambda d: d.score)
        faces = []
        for det in detections:
            landmarks = self.fit_mesh(image, det)
            if landmarks is None:
                continue
            box = landmark_box(landmarks, width, height)
            faces.append(Face(box=box, score=round(det.score, 4), landmarks=landmarks, pose=head_pose(landmarks)))
        faces += self.second_look(image, faces)
        faces = suppress(faces, lambda f: f.box, lambda f: f.score, iou=0.4, cover=0.7)
        faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
        return [
            Face(box=f.box, score=f.score, landmarks=f.landmarks, pose=f.pose, quality=quality(image, f))
            for f in faces[: self.max_faces]
        ]

    def mesh_at(
        self, image: Image, box: tuple[float, float, float, float], *, score: float = 1.0, turned: bool = False
    ) -> Face | None:
        """The face expected inside ``box`` (x, y, w, h), without the tile pyramid: a video
        tracker's step between full detections.

        The mesh runs on a ~256 px crop around ``box`` (the cost does not grow with the frame);
        its own face check decides whether a face is there. When it sees none, one detector pass
        on a window around ``box`` gets a second look. ``turned`` (the face was last seen in
        profile) tries the ``TURNED_FRAMINGS`` first. A face that turns away from a plain track
        is not chased here (seven more mesh passes on every miss of a small face): the track is
        lost, and the full detection that follows finds it with its second look. ``score`` is
        carried over from the track's last detection. None when none finds a face matching ``box``.
        """
        image = check_image(image)
        height, width = image.shape[:2]
        detection = Detection(box=tuple(float(v) for v in box), score=score)  # type: ignore[arg-type]
        # The mesh's in-crop face finder misses small blurred faces at one framing and not at
        # another (ccby multiface, 28-45 px faces: 90% found at 2x, 97% with the two retries).
        follow = tuple(Framing(scale) for scale in FOLLOW_CROP_SCALES)
        landmarks = self.fit_framings(image, detection, TURNED_FRAMINGS + follow if turned else follow)
        if landmarks is None:
            found = self.detect_around(image, detection.box)
            landmarks = None if found is None else self.fit_mesh(image, found)
            if landmarks is None:
                return None
            score = found.score  # type: ignore[union-attr]
        face = Face(box=landmark_box(landmarks, width, height), score=round(score, 4), landmarks=landmarks, pose=head_pose(landmarks))
        return replace(face, quality=quality(image, face))

    def detect_around(self, image: np.ndarray, box: tuple[float, float, float, float]) -> Detection | None:
        """The detection that best overlaps ``box`` in one full-range pass over a square window
        of 4 box widths around it (the detector sees faces down to ~1/10 of its window)."""
        height, width = image.shape[:2]
        bx, by, bw, bh = box
        side = int(min(max(height, width), max(192, 4 * max(bw, bh))))
        x = int(min(max(0, bx + bw / 2 - side / 2), max(0, width - side)))
        y = int(min(max(0, by + bh / 2 - side / 2), max(0, height - side)))
        tile = image[y : y + side, x : x + side]
        th, tw = tile.shape[:2]
        best: tuple[float, Detection] | None = None
        for det in self.detector.process(np.ascontiguousarray(tile)).detections or []:
            rel = det.location_data.relative_bounding_box
            candidate = Detection(box=(x + rel.xmin * tw, y + rel.ymin * th, rel.width * tw, rel.height * th), score=float(det.score[0]))
            iou = box_iou(candidate.box, box)[0]
            if iou > 0.3 and (best is None or iou > best[0]):
                best = (iou, candidate)
        return None if best is None else best[1]

    def second_look(self, image: np.ndarray, found: list[Face]) -> list[Face]:
        """Faces YuNet finds where no face of ``found`` is, with a mesh that agrees with it.

        Only faces of at least ``min_face`` px: the small frontal faces mediapipe misses (the
        28-32 px ones of the ccby multiface clip) would be found too, but each would then be
        followed in every frame of a video, doubling its cost; that is a decision of its own."""
        height, width = image.shape[:2]
        faces = []
        for det in self.second_boxes(image):
            if max(det.box[2], det.box[3]) < self.min_face or any(box_iou(det.box, face.box)[0] > 0.3 or box_iou(det.box, face.box)[1] > 0.6 for face in found + faces):
                continue
            # the turned framings cost up to seven mesh passes: only for faces YuNet sees turned
            landmarks = self.fit_framings(image, det, (Framing(),) + (TURNED_FRAMINGS if looks_turned(det) else ()))
            if landmarks is not None:
                face = Face(box=landmark_box(landmarks, width, height), score=round(det.score, 4), landmarks=landmarks, pose=head_pose(landmarks))
                faces.append(face)
        return faces

    def second_boxes(self, image: np.ndarray) -> list[Detection]:
        """YuNet's faces in the whole image, seen at most ``SECOND_SIDE`` px long, in image pixels."""
        height, width = image.shape[:2]
        scale = min(1.0, SECOND_SIDE / max(height, width))
        small = image if scale == 1.0 else cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        scores, boxes, points = self.yunet(np.ascontiguousarray(small[:, :, ::-1]))  # it wants BGR
        found = []
        for score, box, five in zip(scores, boxes, points):
            x, y, w, h = (float(v) / scale for v in box)
            if min(w, h) < 4:
                continue
            pairs = tuple((float(five[2 * i]) / scale, float(five[2 * i + 1]) / scale) for i in range(5))
            found.append(Detection(box=(x, y, w, h), score=float(score) / 100, points=pairs))
        return found

    def fit_framings(self, image: np.ndarray, det: Detection, framings: tuple[Framing, ...]) -> Landmarks | None:
        """The mesh under the first of ``framings`` that lands on ``det`` (and on its five points,
        when it has them)."""
        for framing in framings:
            landmarks = self.fit_mesh(image, det, crop_scale=framing.scale, angle=framing.angle, mirror=framing.mirror)
            if landmarks is not None and agrees(landmarks, det):
                return landmarks
        return None

    def embed(self, image: Image, face: Face) -> Embedding:
        """128-d dlib identity embedding of ``face`` (see ``likeness.faces.identity``)."""
        return compute_embedding(self.recognizer, check_image(image), face)

    # -- stages -----------------------------------------------------------------------------------
    def find_boxes(self, image: np.ndarray) -> list[Detection]:
        """Detector hits over the tile pyramid, in image pixels, not yet de-duplicated."""
        height, width = image.shape[:2]
        found: list[Detection] = []
        windows = [(self.near_detector, (0, 0, max(height, width)))]
        windows += [(self.detector, window) for window in tile_windows(height, width, self.min_face)]
        for detector, (x, y, side) in windows:
            tile = image[y : y + side, x : x + side]
            th, tw = tile.shape[:2]
            result = detector.process(np.ascontiguousarray(tile))
            for det in result.detections or []:
                rel = det.location_data.relative_bounding_box
                bx, by = x + rel.xmin * tw, y + rel.ymin * th
                bw, bh = rel.width * tw, rel.height * th
                if bw < 4 or bh < 4:
                    continue
                found.append(Detection(box=(bx, by, bw, bh), score=float(det.score[0])))
        return found

    def fit_mesh(
        self, image: np.ndarray, det: Detection, *, crop_scale: float = CROP_SCALE, angle: float = 0.0, mirror: bool = False
    ) -> Landmarks | None:
        """478 landmarks (x, y, z in image pixels) for one detection, or None if the mesh fails.

        The crop is resampled to ``MESH_INPUT`` px whatever the face size, so this costs the same
        at 360p and 4K. ``angle`` turns the crop, ``mirror`` flips it (see ``Framing``); the
        landmarks come back in image pixels under their own names (``MIRROR``) either way."""
        bx, by, bw, bh = det.box
        side = crop_scale * max(bw, bh)
        cx, cy = bx + bw / 2, by + bh / 2
        scale = MESH_INPUT / side
        matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        matrix[:, 2] += (MESH_INPUT / 2 - cx, MESH_INPUT / 2 - cy)
        if mirror:
            matrix = np.array([[-1.0, 0.0, MESH_INPUT], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, (0.0, 0.0, 1.0)])
        crop = cv2.warpAffine(image, matrix, (MESH_INPUT, MESH_INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        result = self.mesh.process(crop)
        if not result.multi_face_landmarks:
            return None
        back = cv2.invertAffineTransform(matrix)
        best = None
        for face_landmarks in result.multi_face_landmarks:
            pts = np.array([(p.x, p.y, p.z) for p in face_landmarks.landmark], dtype=np.float64) * MESH_INPUT
            # back to image pixels: undo the crop's turn, scale and shift; z shares x's scale
            pts[:, :2] = pts[:, :2] @ back[:, :2].T + back[:, 2]
            pts[:, 2] = pts[:, 2] / scale
            if mirror:
                pts = pts[MIRROR]
            mesh_box = (pts[:, 0].min(), pts[:, 1].min(), np.ptp(pts[:, 0]), np.ptp(pts[:, 1]))
            iou, cover = box_iou(mesh_box, det.box)
            if cover < 0.6 or not 0.6 < mesh_box[2] / max(bw, 1e-9) < 2.5:
                continue  # the mesh found another face in the crop, or none that matches
            if best is None or iou > best[0]:
                best = (iou, pts)
        return None if best is None else best[1].astype(np.float32)


def yunet_on_one_thread() -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``yuface.detect`` at ``SECOND_MIN_SCORE`` on the calling thread alone: (scores 0-100,
    x y w h boxes, five points as x0 y0 .. x4 y4), in the pixels of the BGR image it is given.

    The wheel's own OpenMP runtime spreads each pass over every core; on a loaded 2-core machine
    that turned a 21 ms pass into 440 ms (the threads wait on each other and on mediapipe's pool),
    and one ~320 px image is too little work to share. The thread count is set on the runtime the
    wheel bundles, per call, because it belongs to the thread that calls.
    """
    libs = sorted((Path(yuface.__file__).resolve().parent.parent / "yuface.libs").glob("libgomp*.so*"))
    omp = ctypes.CDLL(str(libs[0])) if libs else None

    def detect(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if omp is not None:
            omp.omp_set_num_threads(1)
        return yuface.detect(bgr, conf=SECOND_MIN_SCORE)

    return detect


def looks_turned(det: Detection) -> bool:
    """Whether YuNet's nose lies outside the middle 60% of its eye line: past about 45 degrees
    of yaw (syn_t2i: frontal and tilted 0.2-0.71 of the way from one eye to the other, profiles
    and three-quarter views below -0.1 or above 0.87)."""
    if det.points is None:
        return True
    eye, other, nose = (np.asarray(p) for p in det.points[:3])
    line = other - eye
    along = float((nose - eye) @ line / max(float(line @ line), 1e-9))
    return not 0.2 <= along <= 0.8


def agrees(landmarks: Landmarks, det: Detection) -> bool:
    """Whether the mesh's eyes, nose tip and mouth corners sit on the detector's five points (true
    when it gave none): the median distance within ``AGREE`` face sizes (a profile's hidden eye
    is a guess for both, hence the median)."""
    if det.points is None:
        return True
    distances = np.linalg.norm(landmarks[list(FIVE_POINTS), :2] - np.asarray(det.points), axis=1)
    return float(np.median(distances)) <= AGREE * max(det.box[2], det.box[3])
