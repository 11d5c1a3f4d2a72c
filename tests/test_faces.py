"""Face analysis on real faces: detection, mesh, pose, alignment, identity."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from conftest import shared
from likeness.errors import InputError
from likeness.faces import (
    SAME_PERSON_THRESHOLD,
    FaceAnalyzer,
    align,
    canonical_points,
    distance,
    same_person,
)
from likeness.faces.alignment import anchor_points


@pytest.fixture(scope="module")
def analyzer():
    with FaceAnalyzer() as fa:
        yield fa


@pytest.fixture(scope="module")
def astronaut_face(analyzer, astronaut):
    faces = analyzer.detect(astronaut)
    assert len(faces) == 1
    return faces[0]


def load(name: str) -> np.ndarray:
    return np.asarray(PILImage.open(shared(name)).convert("RGB"))


def test_astronaut_has_one_face_with_478_landmarks_inside_its_box(astronaut_face):
    face = astronaut_face
    x, y, w, h = face.box
    assert face.landmarks.shape == (478, 3)
    assert 70 < w < 140 and 80 < h < 150  # the media README: face about 100 px
    xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
    assert (xs >= x - 1).all() and (xs <= x + w + 1).all()
    assert (ys >= y - 1).all() and (ys <= y + h + 1).all()
    # her right eye (mesh 33) is left of her left eye (263), both above the mouth (13)
    assert face.landmarks[33, 0] < face.landmarks[263, 0]
    assert face.landmarks[33, 1] < face.landmarks[13, 1]


def test_astronaut_pose_and_quality_are_plausible(astronaut_face):
    pose, q = astronaut_face.pose, astronaut_face.quality
    assert abs(pose.yaw) < 20 and abs(pose.pitch) < 20 and abs(pose.roll) < 15
    assert q is not None and 0 <= q.overall <= 1
    assert q.frontalness > 0.85 and q.eyes_open > 0.5 and q.size == astronaut_face.box[2]


def test_flipped_face_has_opposite_yaw_and_roll(analyzer):
    # a clearly turned face: the astronaut rotated in the image plane gives roll, SFHQ gives yaw
    image = load("syn_SFHQ_pt2_00001286.jpg")
    face = analyzer.detect(image)[0]
    mirrored = analyzer.detect(np.ascontiguousarray(image[:, ::-1]))[0]
    assert abs(face.pose.yaw) > 4
    assert np.sign(face.pose.yaw) == -np.sign(mirrored.pose.yaw)
    assert abs(face.pose.yaw + mirrored.pose.yaw) < 3


def test_blur_lowers_sharpness(analyzer, astronaut, astronaut_face):
    import cv2

    blurred = cv2.GaussianBlur(astronaut, (0, 0), 3)
    face = analyzer.detect(blurred)[0]
    assert face.quality.sharpness < astronaut_face.quality.sharpness - 0.2


def test_alignment_puts_eyes_at_canonical_positions(astronaut, astronaut_face):
    for size, padding in ((256, 0.25), (112, 0.0), (512, 0.4)):
        aligned = align(astronaut, astronaut_face, size, padding=padding)
        assert aligned.image.shape == (size, size, 3)
        eyes = anchor_points(aligned.landmarks)[:2]
        target = canonical_points(size, padding)[:2]
        assert np.abs(eyes - target).max() < 0.04 * size
        # the inverse brings crop landmarks back to the image
        back = aligned.landmarks[:, :2] @ aligned.inverse[:, :2].T + aligned.inverse[:, 2]
        assert np.abs(back - astronaut_face.landmarks[:, :2]).max() < 0.01


def test_same_face_resized_flipped_rotated_is_same_person(analyzer, astronaut, astronaut_face):
    import cv2

    reference = analyzer.embed(astronaut, astronaut_face)
    assert reference.shape == (128,)
    h, w = astronaut.shape[:2]
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 1.0)
    variants = [
        cv2.resize(astronaut, (w * 3 // 4, h * 3 // 4), interpolation=cv2.INTER_AREA),
        np.ascontiguousarray(astronaut[:, ::-1]),
        cv2.warpAffine(astronaut, rotation, (w, h), borderMode=cv2.BORDER_REFLECT),
    ]
    for image in variants:
        face = analyzer.detect(image)[0]
        assert same_person(reference, analyzer.embed(image, face)), distance(reference, analyzer.embed(image, face))


def test_astronaut_and_synthetic_people_are_different(analyzer, astronaut, astronaut_face):
    reference = analyzer.embed(astronaut, astronaut_face)
    for name in ("syn_SFHQ_pt1_00000161.jpg", "syn_SFHQ_pt2_00003124.jpg"):
        image = load(name)
        other = analyzer.embed(image, analyzer.detect(image)[0])
        assert distance(reference, other) > SAME_PERSON_THRESHOLD
        assert not same_person(reference, other)


def test_grid_of_eight_synthetic_faces_gives_eight(analyzer):
    faces = analyzer.detect(load("syn_SFHQ_sample_2x4_grid_8faces.jpg"))
    assert len(faces) == 8
    areas = [f.box[2] * f.box[3] for f in faces]
    assert areas == sorted(areas, reverse=True)


def test_image_without_face_gives_empty_list(analyzer):
    sky = np.zeros((240, 320, 3), np.uint8)
    sky[:] = (90, 140, 220)
    assert analyzer.detect(sky) == []


def test_wrong_array_is_one_clear_input_error(analyzer):
    with pytest.raises(InputError, match="RGB uint8"):
        analyzer.detect(np.zeros((64, 64), np.float32))
