"""A big face is swapped at a bounded working size and brought back up without losing the frame's
detail round it: the same face as a full-size swap, a fraction of the work."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from conftest import shared
from likeness.errors import InputError
from likeness.faces import FaceAnalyzer, distance
from likeness.swap import TemporalSmoother, composite, make_engine, make_faceset
from likeness.swap.warp import shrink


@pytest.fixture(scope="module")
def big_astronaut(astronaut):
    """The astronaut enlarged 4x (face about 430 px high), her mirror image as the faceset."""
    big = cv2.resize(astronaut, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    mirror = np.ascontiguousarray(astronaut[:, ::-1])
    with FaceAnalyzer() as analyzer:
        faceset = make_faceset([mirror], analyzer)
        face = analyzer.detect(big)[0]
    return big, faceset, face


def swap_with(work_size, image, faceset, face):
    engine = make_engine("retrieval", work_size=work_size)
    engine.prepare(faceset)
    return engine.swap(image, face)


def changed_outside_support(before, after, patch) -> int:
    allowed = np.zeros(before.shape[:2], bool)
    x, y, w, h = patch.box
    allowed[y:y + h, x:x + w] = patch.support
    return int(np.any(before != after, axis=2)[~allowed].sum())


def test_big_face_is_worked_small_and_matches_the_full_size_swap(big_astronaut):
    big, faceset, face = big_astronaut
    small = swap_with(200, big, faceset, face)
    full = swap_with(None, big, faceset, face)
    assert full.work is None and small.work is not None
    assert max(small.work.shape) < 0.6 * max(small.mask.shape)  # really worked at a smaller size
    assert small.box == full.box and small.image.shape == full.image.shape
    out_small, out_full = composite(big, small), composite(big, full)
    assert changed_outside_support(big, out_small, small) == 0
    inside = small.full_mask(big.shape) > 0.9
    assert np.any(out_small != big, axis=2)[inside].mean() > 0.5, "the face did not change"
    diff = np.abs(out_small.astype(int) - out_full.astype(int))
    assert diff[inside].mean() < 4  # the same face, a little softer


def test_hair_and_jaw_round_the_face_keep_full_detail(big_astronaut, astronaut):
    # The band round the face is warped at full size: its fine detail is the frame's own, not
    # an upsampled copy of the working crop. At her native size (real detail), worked at half.
    _, faceset, _ = big_astronaut
    with FaceAnalyzer() as analyzer:
        face = analyzer.detect(astronaut)[0]
    patch = swap_with(64, astronaut, faceset, face)
    assert patch.work is not None and patch.work.scale[0] < 0.7
    out = composite(astronaut, patch)
    x, y, w, h = patch.box
    band = np.zeros(astronaut.shape[:2], bool)
    band[y:y + h, x:x + w] = patch.support
    band &= patch.full_mask(astronaut.shape) < 0.02
    detail = lambda image: np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_32F))[band].mean()  # noqa: E731
    sx, sy = patch.work.scale
    small = cv2.resize(astronaut, None, fx=sx, fy=sy, interpolation=cv2.INTER_AREA)
    upsampled = cv2.resize(small, astronaut.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    assert detail(out) > 0.8 * detail(astronaut)  # the band is resampled once (bilinear), no more
    assert detail(out) > 1.3 * detail(upsampled)


def test_a_face_bigger_than_its_source_detail_says_so(big_astronaut, astronaut):
    big, faceset, face = big_astronaut
    # The faceset crop comes from a ~90 px face; the target face is ~430 px: about 4x enlarged.
    assert swap_with(None, big, faceset, face).upscale > 2.5
    with FaceAnalyzer() as analyzer:
        native = analyzer.detect(astronaut)[0]
    assert swap_with(None, astronaut, faceset, native).upscale < 1.5


def test_smoother_and_held_patches_work_across_working_sizes(big_astronaut):
    big, faceset, face = big_astronaut
    smoother = TemporalSmoother()
    first = swap_with(200, big, faceset, face)
    second = swap_with(160, big, faceset, face)  # another scale: the old mask is resized, not misread
    composite(big, first, smoother=smoother, track=1)
    out = composite(big, second, smoother=smoother, track=1)
    assert changed_outside_support(big, out, second) == 0
    # A held patch (its backdrop belongs to an older frame) blends onto the new frame's pixels.
    brighter = np.clip(big.astype(int) + 20, 0, 255).astype(np.uint8)
    held = composite(brighter, replace(second, backdrop=None), smoother=smoother, track=1)
    assert changed_outside_support(brighter, held, second) == 0
    inside = second.full_mask(big.shape) > 0.9
    assert np.any(held != brighter, axis=2)[inside].mean() > 0.5


def test_sfhq_identity_survives_the_working_size():
    source = cv2.imread(str(shared("syn_SFHQ_pt1_00000161.jpg")))[..., ::-1].copy()
    target = cv2.imread(str(shared("syn_SFHQ_pt2_00003040.jpg")))[..., ::-1].copy()
    with FaceAnalyzer() as analyzer:
        faceset = make_faceset([source], analyzer)
        face = analyzer.detect(target)[0]  # about 600 px: worked at 288
        patch = swap_with(288, target, faceset, face)
        assert patch.work is not None
        out = composite(target, patch)
        embedded = analyzer.embed(out, analyzer.detect(out)[0])
        assert distance(embedded, faceset.items[0].embedding) < 0.6
        assert distance(embedded, analyzer.embed(target, face)) > 0.6


def test_work_size_below_64_is_refused():
    with pytest.raises(InputError, match="work_size"):
        make_engine("retrieval", work_size=10)


def test_shrink_matches_area_resampling(astronaut):
    for size in ((200, 180), (97, 131), (256, 256)):
        fast = shrink(astronaut, size).astype(int)
        area = cv2.resize(astronaut, size, interpolation=cv2.INTER_AREA).astype(int)
        assert fast.shape == area.shape
        assert np.abs(fast - area).mean() < 2.5
