"""Occluders on real faces: spectacle frames, hair over the forehead, hands."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from conftest import shared
from likeness.faces.occlusion import (
    HandFinder, Occluders, draw_hand, glasses, hair, source_occluders, target_occluders, union,
)

GLASSES = (
    "syn_t2i_down_glasses_FLUX1_dev_image_0001577.jpg",
    "syn_t2i_down_glasses_FLUX1_schnell_image_0046194.jpg",
    "syn_t2i_down_glasses_FLUX1_schnell_image_0055715.jpg",
)
STILLS = (
    "syn_SFHQ_pt1_00000161.jpg", "syn_SFHQ_pt1_00002875.jpg", "syn_SFHQ_pt2_00001286.jpg",
    "syn_SFHQ_pt2_00001843.jpg", "syn_SFHQ_pt2_00002324.jpg", "syn_SFHQ_pt2_00003040.jpg",
    "syn_SFHQ_pt2_00003124.jpg",
)


@pytest.fixture(scope="module")
def analyzer():
    from likeness.faces import FaceAnalyzer

    with FaceAnalyzer() as a:
        yield a


@pytest.fixture(scope="module")
def face_of(analyzer):
    cache: dict = {}

    def load(name):
        if name not in cache:
            image = cv2.imread(str(shared(name)))[..., ::-1].copy()
            cache[name] = image, analyzer.detect(image)[0].landmarks
        return cache[name]

    return load


def test_boxes_compose_into_one_mask():
    a = Occluders((10, 10, 4, 4), np.full((4, 4), 255, np.uint8))
    b = Occluders((12, 20, 2, 2), np.full((2, 2), 255, np.uint8))
    both = union(a, b)
    assert both.box == (10, 10, 4, 12)
    full = both.full(40, 40)
    assert full.sum() // 255 == 16 + 4
    assert full[10:14, 10:14].all() and full[20:22, 12:14].all()
    assert a.over(0, 0, 12, 12)[10:12, 10:12].all()  # clipped to the asked box
    assert union().empty


@pytest.mark.parametrize("name", GLASSES)
def test_glasses_found_on_faces_wearing_them(face_of, name):
    image, landmarks = face_of(name)
    found = glasses(image, landmarks)
    assert found.present and found.score >= 1.0
    assert not found.frames.empty


@pytest.mark.parametrize("name", STILLS)
def test_no_glasses_on_bare_frontal_faces(face_of, name):
    image, landmarks = face_of(name)
    found = glasses(image, landmarks)
    assert not found.present and found.score < 0.9  # the worst of them scores 0.82
    assert found.frames.empty


def test_no_glasses_on_the_astronaut(astronaut, analyzer):
    found = glasses(astronaut, analyzer.detect(astronaut)[0].landmarks)
    assert not found.present and found.score < 0.9


def test_a_profile_is_not_judged(face_of):
    image, landmarks = face_of("syn_t2i_profile_FLUX1_schnell_image_0045995.jpg")
    found = glasses(image, landmarks)
    assert not found.present and math.isnan(found.score)


@pytest.mark.parametrize("name", (GLASSES[0], GLASSES[2]))
def test_target_keeps_the_dark_rims_in_front(face_of, name):
    # Black frames: the darkest pixel on a line crossing a rim is the rim. Lines: down from
    # under each eye to the cheek, out from each outer eye corner, down the bridge of the nose.
    image, landmarks = face_of(name)
    h, w = image.shape[:2]
    mask = target_occluders(image, landmarks).full(h, w) > 0
    grey = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (3, 3), 0)
    p = landmarks[:, :2]
    gap = float(np.hypot(*(p[133] - p[362])))
    # (the lines start clear of the lashes: these faces look down, lids nearly closed)
    lines = [(p[145] + (0, gap * 0.3), p[145] + (0, gap * 1.1)),  # below the right eye
             (p[374] + (0, gap * 0.3), p[374] + (0, gap * 1.1)),  # below the left eye
             (p[33] + (p[33] - p[133]) * 0.3, p[33] + (p[33] - p[133]) * 0.7),  # out from the outer corners
             (p[263] + (p[263] - p[362]) * 0.3, p[263] + (p[263] - p[362]) * 0.7),
             ((p[133] + p[362]) / 2 - (0, gap * 0.4), (p[133] + p[362]) / 2 + (0, gap * 0.2))]  # bridge
    for start, end in lines:
        samples = np.linspace(start, end, 40).round().astype(int)
        darkest = samples[np.argmin(grey[samples[:, 1], samples[:, 0]])]
        assert mask[darkest[1], darkest[0]], f"rim at {darkest} not covered"


def test_source_flags_glasses_for_the_coverage_report(face_of):
    image, landmarks = face_of(GLASSES[1])
    mask, flags = source_occluders(image, landmarks)
    assert flags["glasses"] is True and flags["glasses_score"] >= 1.0
    assert not mask.empty


def test_fringe_over_the_forehead_is_hair(astronaut, analyzer):
    landmarks = analyzer.detect(astronaut)[0].landmarks
    mask, flags = source_occluders(astronaut, landmarks)
    assert flags["glasses"] is False
    assert flags["hair"] > 0.25  # her fringe covers much of the forehead
    found = hair(astronaut, landmarks)
    brow_y = landmarks[[105, 334], 1].mean()
    assert found.full(*astronaut.shape[:2])[: int(brow_y)].sum() // 255 > 300


def test_a_bare_forehead_is_not_hair(face_of):
    image, landmarks = face_of("syn_SFHQ_pt1_00002875.jpg")
    assert source_occluders(image, landmarks)[1]["hair"] < 0.08


def box_of(landmarks):
    return tuple(int(v) for v in (*landmarks[:, :2].min(0), *np.ptp(landmarks[:, :2], 0)))


def test_hand_model_loads_offline_and_sees_no_hands_on_stills(face_of):
    with HandFinder() as finder:
        for name in ("syn_SFHQ_pt1_00000161.jpg", "syn_SFHQ_pt2_00003040.jpg"):
            image, landmarks = face_of(name)
            box = box_of(landmarks)
            assert finder.landmarks(image, box) == []
            found = finder.find(image, box)
            assert found.empty and found.mask.shape == (box[3], box[2])
            assert target_occluders(image, landmarks, hands=finder).box == target_occluders(image, landmarks).box


def test_a_hand_below_the_chin_is_seen_but_covers_no_face(face_of):
    # The young man in glasses rests his chin over his crossed arms: a real hand, below the face.
    image, landmarks = face_of(GLASSES[0])
    box = box_of(landmarks)
    with HandFinder() as finder:
        hands = finder.landmarks(image, box)
        assert len(hands) == 1 and hands[0][:, 1].mean() > box[1] + box[3]
        found = finder.find(image, box)
    assert found.mask.mean() / 255 < 0.02


def test_a_hand_is_painted_over_its_bones():
    # No hand photo ships: the drawing from 21 landmarks is checked on a hand laid out by hand.
    wrist = np.array([50, 90], np.float32)
    bases = np.array([[35, 70], [45, 60], [55, 58], [65, 60], [72, 66]], np.float32)
    p = [wrist]
    for i, base in enumerate(bases):
        direction = (base - wrist) / np.linalg.norm(base - wrist)
        p += [base + direction * 8 * k for k in range(4)] if i else [base + direction * 7 * k for k in range(1, 5)]
    mask = np.zeros((120, 120), np.uint8)
    draw_hand(mask, np.array(p[:21], np.float32))
    assert mask[75, 55] == 255  # the palm
    assert mask[int(p[8][1]), int(p[8][0])] == 255  # a fingertip
    assert mask[110, 10] == 0


def test_the_enrolment_coverage_report_counts_crops_with_glasses(analyzer):
    from likeness import media
    from likeness.swap import make_faceset
    from likeness.vault.faceset import Coverage, coverage

    images = [media.read_image(shared(n)) for n in ("syn_t2i_down_glasses_FLUX1_dev_image_0001577.jpg", "syn_SFHQ_pt2_00003040.jpg")]
    report = coverage(make_faceset(images, analyzer).items)
    assert report.glasses_share == 0.5
    assert any("wear glasses" in line for line in report.advice)
    assert Coverage.from_dict(report.as_dict()) == report
    # A report stored before these fields existed still reads.
    old = {k: v for k, v in report.as_dict().items() if k not in ("glasses_share", "hair_share")}
    assert Coverage.from_dict(old).glasses_share == 0.0
