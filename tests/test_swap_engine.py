"""The retrieval engine: a real identity onto real faces, judged by pixels and by dlib."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import shared
from likeness.errors import InputError, NoFaceError
from likeness.faces import FaceAnalyzer, distance
from likeness.swap import Patch, composite, make_engine, make_faceset
from likeness.swap.retrieval import RetrievalEngine


def read(path) -> np.ndarray:
    return cv2.imread(str(path))[..., ::-1].copy()


@pytest.fixture(scope="module")
def analyzer():
    with FaceAnalyzer() as analyzer:
        yield analyzer


def swap_once(analyzer, source: np.ndarray, target: np.ndarray):
    faceset = make_faceset([source], analyzer)
    engine = make_engine("retrieval")
    engine.prepare(faceset)
    face = analyzer.detect(target)[0]
    patch = engine.swap(target, face)
    return faceset, face, patch, composite(target, patch)


def assert_changes_only_inside(target, out, patch: Patch):
    changed = np.any(out != target, axis=2)
    inside = np.zeros(changed.shape, np.uint8)
    x, y, w, h = patch.box
    inside[y:y + h, x:x + w] = patch.support
    inside = inside > 0
    # The region allowed to change is the feathered mask, widened by the blend, not the crop.
    assert inside.sum() < 4 * (patch.mask > 0.5).sum()
    assert changed[patch.full_mask(target.shape) > 0.5].mean() > 0.5, "the face did not change"
    assert not changed[~inside].any(), f"{changed[~inside].sum()} pixels changed outside the mask"


def test_astronaut_onto_her_mirror_image_changes_only_the_face(analyzer, astronaut):
    # Runs without the shared media: the identity is the astronaut, the target her mirror image.
    target = np.ascontiguousarray(astronaut[:, ::-1])
    faceset, face, patch, out = swap_once(analyzer, astronaut, target)
    assert out.shape == target.shape and out.dtype == np.uint8
    assert patch.image.shape[:2] == patch.mask.shape and patch.mask.dtype == np.float32
    assert_changes_only_inside(target, out, patch)
    embedded = analyzer.embed(out, analyzer.detect(out)[0])
    assert distance(embedded, faceset.items[0].embedding) < 0.6


@pytest.mark.parametrize("source, target", [
    ("syn_SFHQ_pt2_00001843.jpg", "astronaut"),
    ("syn_SFHQ_pt1_00000161.jpg", "astronaut"),
    ("syn_SFHQ_pt2_00002324.jpg", "syn_SFHQ_pt2_00001286.jpg"),
])
def test_sfhq_identity_is_recognised_on_another_face(analyzer, astronaut, source, target):
    source_image = read(shared(source))
    target_image = astronaut if target == "astronaut" else read(shared(target))
    faceset, face, patch, out = swap_once(analyzer, source_image, target_image)
    assert_changes_only_inside(target_image, out, patch)
    out_face = analyzer.detect(out)[0]
    embedded = analyzer.embed(out, out_face)
    assert distance(embedded, faceset.items[0].embedding) < 0.6, "output not recognised as the source"
    assert distance(embedded, analyzer.embed(target_image, face)) > 0.6, "output still the target"


def test_swap_keeps_the_target_expression(analyzer, astronaut):
    # The astronaut smiles with teeth; the SFHQ source's mouth is closed: the mouth stays hers.
    source = read(shared("syn_SFHQ_pt2_00001843.jpg"))
    faceset, face, patch, out = swap_once(analyzer, source, astronaut)
    out_face = analyzer.detect(out)[0]
    # Expression, not position: the shape blend moves the mouth toward the source's on purpose.
    before, after = face.landmarks, out_face.landmarks
    iod = np.linalg.norm(before[33, :2] - before[263, :2])
    opening = lambda p: np.linalg.norm(p[13, :2] - p[14, :2])  # noqa: E731
    assert opening(before) / iod > 0.1, "the astronaut should be smiling with her mouth open"
    assert abs(opening(after) - opening(before)) / iod < 0.05


def test_unprepared_engine_and_empty_faceset_say_so(analyzer, astronaut):
    engine = RetrievalEngine()
    face = analyzer.detect(astronaut)[0]
    with pytest.raises(InputError, match="not prepared"):
        engine.swap(astronaut, face)
    with pytest.raises(NoFaceError, match="no face"):
        make_faceset([np.full((200, 200, 3), 127, np.uint8)], analyzer)
