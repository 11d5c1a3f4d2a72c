"""Tracking on real video: stable ids, smoothing, bridged gaps, scene cuts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from conftest import shared
from likeness.faces import FaceAnalyzer
from likeness.faces.detection import box_iou
from likeness.faces.tracking import Tracker, analyze_video, frame_signature, is_scene_cut
from likeness.media import Frame, read_frames


@pytest.fixture(scope="module")
def analyzer():
    with FaceAnalyzer() as fa:
        yield fa


def test_talking_head_keeps_one_track_id_in_every_frame(analyzer):
    results = list(analyze_video(read_frames(shared("grid_bbaf2n.mpg")), analyzer))
    assert len(results) == 75
    assert all(len(faces) == 1 for _, faces in results)
    assert {faces[0].track for _, faces in results} == {1}
    assert not any(faces[0].bridged for _, faces in results)


def second_difference(series: list[np.ndarray]) -> float:
    pts = np.stack([s[:, :2] for s in series])
    return float(np.abs(np.diff(pts, n=2, axis=0)).mean())


def test_smoothing_lowers_landmark_jitter_on_moving_face(analyzer):
    detections = [(f.time, analyzer.detect(f.image)) for f in read_frames(shared("syn_motion_SFHQ_pt1_00000161_5s.mp4"))]
    assert sum(1 for _, faces in detections if len(faces) == 1) >= 110
    raw_tracker, smooth_tracker = Tracker(smooth=False), Tracker()
    raw, smooth = [], []
    for time, faces in detections:
        raw += [f.landmarks for f in raw_tracker.update(faces, time) if not f.bridged]
        smooth += [f.landmarks for f in smooth_tracker.update(faces, time) if not f.bridged]
    assert second_difference(smooth) < 0.6 * second_difference(raw)
    # no lag to speak of: the smoothed mesh stays within 5% of the eye distance of the raw one
    eyes = np.linalg.norm(raw[0][468, :2] - raw[0][473, :2])
    assert np.mean([np.abs(s - r)[:, :2].mean() for s, r in zip(smooth, raw)]) < 0.05 * eyes


def test_missed_frames_are_bridged_then_the_track_ends(analyzer, astronaut):
    face = analyzer.detect(astronaut)[0]
    tracker = Tracker(max_gap=2)
    first = tracker.update([face], 0.0)
    assert first[0].track == 1 and not first[0].bridged
    gap = [tracker.update([], t) for t in (0.04, 0.08)]
    assert all(len(f) == 1 and f[0].bridged and f[0].track == 1 for f in gap)
    assert tracker.update([], 0.12) == []  # gap longer than max_gap: the track is over
    assert tracker.update([face], 0.16)[0].track == 2  # ids are never reused


def test_face_returning_within_the_gap_keeps_its_id(analyzer, astronaut):
    face = analyzer.detect(astronaut)[0]
    tracker = Tracker(max_gap=3)
    tracker.update([face], 0.0)
    tracker.update([], 0.04)
    assert [f.track for f in tracker.update([face], 0.08)] == [1]


def test_scene_cut_starts_new_tracks(analyzer, astronaut):
    # the same face at the same place, pasted into another picture: only the cut can split it
    other = cv2.resize(data.coffee(), astronaut.shape[1::-1])
    other[40:210, 150:300] = astronaut[40:210, 150:300]
    frames = [Frame(i, i / 25, img) for i, img in enumerate([astronaut, astronaut, other, other])]
    tracks = [faces[0].track for _, faces in analyze_video(frames, analyzer)]
    assert tracks[0] == tracks[1] and tracks[2] == tracks[3] and tracks[1] != tracks[2]


def test_film_cuts_are_found_and_effects_are_not_cuts():
    signatures = {}
    for frame in read_frames(shared("ccby_tears_of_steel_10s.mp4")):
        if frame.index in (19, 20, 21, 64, 65, 191, 192, 193):
            signatures[frame.index] = frame_signature(frame.image)
        if frame.index > 193:
            break
    assert is_scene_cut(signatures[20], signatures[21])
    assert is_scene_cut(signatures[64], signatures[65])
    assert not is_scene_cut(signatures[19], signatures[20])
    assert not is_scene_cut(signatures[191], signatures[192])  # a visual effect, same shot
    assert not is_scene_cut(signatures[192], signatures[193])


class CountingAnalyzer(FaceAnalyzer):
    """A FaceAnalyzer that counts full detections (the expensive tile pyramid)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.detections = 0

    def detect(self, image):
        self.detections += 1
        return super().detect(image)


def test_talking_head_is_followed_by_the_mesh_between_periodic_detections():
    with CountingAnalyzer() as counting:
        results = list(analyze_video(read_frames(shared("grid_bbaf2n.mpg")), counting, detect_every=10))
    assert len(results) == 75
    assert all(len(faces) == 1 and faces[0].track == 1 and not faces[0].bridged for _, faces in results)
    assert counting.detections <= 10  # frames 0, 10, ..., 70 (plus any frame where the mesh lost it)
    assert all(faces[0].embedding is None for _, faces in results)  # identity is never computed unasked
    assert all(faces[0].quality is not None for _, faces in results)


def test_followed_mesh_matches_per_frame_detection_on_a_moving_face(analyzer):
    frames = [f for _, f in zip(range(40), read_frames(shared("syn_motion_SFHQ_pt1_00000161_5s.mp4")))]
    detected = list(analyze_video(frames, analyzer, Tracker(smooth=False), detect_every=1))
    followed = list(analyze_video(frames, analyzer, Tracker(smooth=False), detect_every=20))
    assert all(len(faces) == 1 for _, faces in followed)
    eyes = np.linalg.norm(detected[0][1][0].landmarks[468, :2] - detected[0][1][0].landmarks[473, :2])
    gaps = [np.abs(a[0].landmarks - b[0].landmarks)[:, :2].mean() for (_, a), (_, b) in zip(detected, followed)]
    assert max(gaps) < 0.05 * eyes  # mesh on the tracked crop ~ mesh on the detector's crop


def test_covered_face_sends_the_frame_back_to_the_detector_and_ends_the_track(astronaut):
    covered = astronaut.copy()
    covered[60:200, 160:300] = astronaut[300:440, 10:150]  # the face hidden under a patch of the picture
    images = [astronaut] * 3 + [covered] * 6
    frames = [Frame(i, i / 25, img) for i, img in enumerate(images)]
    with CountingAnalyzer() as counting:
        results = list(analyze_video(frames, counting, Tracker(max_gap=2), detect_every=100))
        assert counting.detections == 1 + 1  # first frame, then once when the track is lost (not while bridged)
    assert [len(faces) for _, faces in results] == [1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert [faces[0].bridged for _, faces in results[:5]] == [False, False, False, True, True]


def test_mesh_at_finds_a_face_from_a_rough_box_and_nothing_where_there_is_none(analyzer, astronaut):
    face = analyzer.detect(astronaut)[0]
    x, y, w, h = face.box
    moved = analyzer.mesh_at(astronaut, (x + w * 0.15, y - h * 0.1, w * 1.1, h * 1.1), score=face.score)
    assert moved is not None and moved.quality is not None and moved.score == face.score
    assert box_iou(moved.box, face.box)[0] > 0.8
    assert analyzer.mesh_at(astronaut, (20, 380, 100, 100)) is None  # a patch of the suit and background


def test_face_entering_an_empty_shot_is_found_at_the_next_search(analyzer, astronaut):
    covered = astronaut.copy()
    covered[60:200, 160:300] = astronaut[300:440, 10:150]
    frames = [Frame(i, i / 25, img) for i, img in enumerate([covered] + [astronaut] * 6)]
    counts = [len(faces) for _, faces in analyze_video(frames, analyzer, detect_every=12)]
    assert counts == [0, 0, 0, 1, 1, 1, 1]  # no track: the detector looks every 12 // 4 frames


@pytest.mark.parametrize("size", [None, (1280, 720), (1920, 1080)])
def test_small_faces_at_an_event_are_found_at_native_720p_and_1080p(analyzer, size):
    # three faces of 66, 36 and 28 px in the 640x480 original: the pyramid must keep the small ones
    image = next(iter(read_frames(shared("ccby_openmpf_video_01_multiface.mp4")))).image
    if size is not None:
        width, height = size
        scaled = cv2.resize(image, (height * 4 // 3, height), interpolation=cv2.INTER_CUBIC)
        image = np.zeros((height, width, 3), np.uint8)
        image[:, (width - scaled.shape[1]) // 2 :][:, : scaled.shape[1]] = scaled
    assert len(analyzer.detect(image)) >= 3
