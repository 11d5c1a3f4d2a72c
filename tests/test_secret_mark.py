"""The secret-keyed second mark: laid with the public one in one pass, read only with the vault's key."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import crop_half_area, jpeg, shared
from likeness.errors import InputError
from likeness.tagging import PUBLIC_KEY, Watermarker, detect, embed
from likeness.tagging.watermark import FALSE_POSITIVE_BOUND, MAX_RMS

RENDER_ID = 0x0BAD_C0DE_1234_5678
SECRET = b"vault-derived secret watermark key: 32 bytes or so"
DUAL_PSNR_BOUND = 40.0  # dB: MAX_RMS caps the sum of both marks, as it capped the public one alone




def _psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2))


@pytest.fixture(scope="module")
def dual():
    return Watermarker(PUBLIC_KEY, secret_key=SECRET)


@pytest.fixture(scope="module")
def public():
    return Watermarker(PUBLIC_KEY)


@pytest.fixture(scope="module")
def secret():
    return Watermarker(SECRET)


@pytest.fixture(scope="module")
def marked(dual, astronaut):
    return dual.embed(astronaut, RENDER_ID)


@pytest.fixture(scope="module")
def marked_1080p(dual, astronaut):
    return dual.embed(cv2.resize(astronaut, (1920, 1080), interpolation=cv2.INTER_CUBIC), RENDER_ID)


ATTACKS = {
    "none": lambda im: im,
    "jpeg_q50": lambda im: jpeg(im, 50),
    "jpeg_q30": lambda im: jpeg(im, 30),
    "crop_half_area": lambda im: crop_half_area(im, 0.37, 0.81),
    "crop_half_area_jpeg_q50": lambda im: jpeg(crop_half_area(im, 0.9, 0.1), 50),
}


@pytest.mark.parametrize("attack", ["none", "jpeg_q50", "jpeg_q30"])
def test_both_marks_read_back_on_512px(public, secret, marked, attack):
    attacked = ATTACKS[attack](marked)
    assert public.detect(attacked).payload == RENDER_ID
    found = secret.detect(attacked)
    assert found.found and found.payload == RENDER_ID


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_both_marks_read_back_on_1080p(public, secret, marked_1080p, attack):
    """Half-area crops of a 512 px picture (362 px left) are the secret mark's measured limit, so crops are tested at 1080p."""
    attacked = ATTACKS[attack](marked_1080p)
    assert public.detect(attacked).payload == RENDER_ID
    found = secret.detect(attacked)
    assert found.found and found.payload == RENDER_ID


def test_crops_at_any_offset_keep_both_marks(public, secret, marked_1080p):
    offsets = [(y, x) for y in (0.0, 0.5, 1.0) for x in (0.0, 0.5, 1.0)]
    crops = [jpeg(crop_half_area(marked_1080p, *o), 50) for o in offsets]
    assert [o for o, c in zip(offsets, crops) if public.detect(c).payload != RENDER_ID] == []
    assert [o for o, c in zip(offsets, crops) if secret.detect(c).payload != RENDER_ID] == []


def test_dual_marker_reads_both(dual, marked):
    assert dual.detect(marked).payload == RENDER_ID  # detect: the public mark
    assert dual.detect_secret(marked).payload == RENDER_ID


@pytest.mark.parametrize("name", ["syn_SFHQ_pt2_00001843.jpg", "syn_t2i_profile_SDXL_image_0015989.jpg"])
def test_both_marks_on_shared_faces_after_jpeg_q50(public, secret, dual, name):
    image = cv2.imread(str(shared(name)))[:, :, ::-1].copy()
    attacked = jpeg(dual.embed(image, RENDER_ID ^ 0xFF), 50)
    assert public.detect(attacked).payload == RENDER_ID ^ 0xFF
    assert secret.detect(attacked).payload == RENDER_ID ^ 0xFF


def test_dual_marking_stays_invisible_by_psnr(dual, astronaut, marked):
    assert _psnr(marked, astronaut) >= DUAL_PSNR_BOUND
    busy = np.random.default_rng(0).integers(0, 256, (384, 512, 3), dtype=np.uint8)  # texture gain at its top: the cap binds
    assert _psnr(dual.embed(busy, RENDER_ID), busy) >= 20 * np.log10(255.0 / MAX_RMS) - 0.3


def test_public_only_mark_has_no_secret_mark(public, secret, astronaut):
    forged = public.embed(astronaut, RENDER_ID)  # what anyone can do with a real render id
    assert public.detect(forged).payload == RENDER_ID
    assert not secret.detect(forged).found
    assert not secret.detect(jpeg(forged, 50)).found


def test_secret_mark_alone_is_not_read_with_the_public_key(public, secret, astronaut):
    only_secret = secret.embed(astronaut, RENDER_ID)
    assert secret.detect(only_secret).payload == RENDER_ID
    assert not public.detect(only_secret).found


def test_other_secret_key_finds_nothing(marked):
    assert not Watermarker(b"another vault's secret key").detect(marked).found


def test_module_level_functions_take_the_secret_key(astronaut):
    marked = embed(astronaut, 42, secret_key=SECRET)
    assert detect(marked).payload == 42
    assert detect(marked, SECRET).payload == 42


def test_video_frames_carry_both_marks(public, secret):
    rng = np.random.default_rng(1)
    base = cv2.resize(cv2.imread(str(shared("syn_SFHQ_pt1_00000161.jpg")))[:, :, ::-1], (512, 512))
    frames = [np.roll(base, i, axis=1) for i in range(0, 16, 2)]
    marked = Watermarker(PUBLIC_KEY, video=True, secret_key=SECRET).embed_frames(frames, RENDER_ID)
    noisy = [jpeg(np.clip(f + rng.normal(0, 4, f.shape), 0, 255).astype(np.uint8), 60) for f in marked]
    assert public.detect_frames(noisy).payload == RENDER_ID
    assert secret.detect_frames(noisy).payload == RENDER_ID


def test_false_positive_bound_holds_for_the_secret_key():
    assert FALSE_POSITIVE_BOUND <= 1e-9  # the secret detector decodes at most MAX_CHECKS guesses too


def test_no_secret_false_alarm_on_unmarked_images(secret):
    rng = np.random.default_rng(11)
    from skimage import data

    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    hits = 0
    for i in range(40):
        src = sources[i % len(sources)]
        h, w = src.shape[:2]
        ch, cw = int(rng.integers(128, h)), int(rng.integers(128, w))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        hits += secret.detect(jpeg(src[y : y + ch, x : x + cw], int(rng.integers(30, 95)))).found
    assert hits == 0


def test_bad_secret_setups_are_clear_errors(astronaut):
    with pytest.raises(InputError):
        Watermarker(b"not the public key", secret_key=SECRET)
    with pytest.raises(InputError):
        Watermarker(PUBLIC_KEY, secret_key=PUBLIC_KEY)
    with pytest.raises(InputError):
        Watermarker(PUBLIC_KEY, secret_key=b"")
    with pytest.raises(InputError):
        Watermarker(PUBLIC_KEY).detect_secret(astronaut)
