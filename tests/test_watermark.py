"""The invisible watermark on real faces: it survives the everyday attacks, and never cries wolf."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from conftest import shared
from likeness.errors import InputError
from likeness.tagging import FALSE_POSITIVE_BOUND, PUBLIC_KEY, Watermarker

RENDER_ID = 0x1234_5678_9ABC_DEF0


def _jpeg(image, quality):
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]


def _resize(image, f):
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)


def _crop_half_area(image, y0, x0):
    h, w = image.shape[:2]
    ch, cw = int(h * 0.7072), int(w * 0.7072)
    y, x = int((h - ch) * y0), int((w - cw) * x0)
    return image[y : y + ch, x : x + cw]


ATTACKS = {
    "none": lambda im: im,
    "jpeg_q90": lambda im: _jpeg(im, 90),
    "jpeg_q50": lambda im: _jpeg(im, 50),
    "jpeg_q30": lambda im: _jpeg(im, 30),
    "half_size": lambda im: _resize(im, 0.5),
    "half_size_and_back": lambda im: cv2.resize(_resize(im, 0.5), im.shape[1::-1], interpolation=cv2.INTER_LINEAR),
    "crop_half_area": lambda im: _crop_half_area(im, 0.37, 0.81),
    "shift_8px": lambda im: im[8:, 8:],
    "brightness_1.25": lambda im: np.clip(im * 1.25, 0, 255).astype(np.uint8),
    "contrast_1.3": lambda im: np.clip((im.astype(np.float32) - 128) * 1.3 + 128, 0, 255).astype(np.uint8),
    "blur_1.5": lambda im: cv2.GaussianBlur(im, (0, 0), 1.5),
    "noise_8": lambda im: np.clip(im + np.random.default_rng(3).normal(0, 8, im.shape), 0, 255).astype(np.uint8),
    "screenshot": lambda im: _jpeg(_resize(im, 0.75), 75),
}


@pytest.fixture(scope="module")
def marker():
    return Watermarker(PUBLIC_KEY)


@pytest.fixture(scope="module")
def marked_astronaut(marker, astronaut):
    return marker.embed(astronaut, RENDER_ID)


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def test_watermark_is_invisible_by_psnr(marked_astronaut, astronaut):
    assert _psnr(marked_astronaut, astronaut) >= 40.0


def test_watermark_is_faint_on_flat_areas(marker):
    flat = np.full((384, 512, 3), 180, np.uint8)
    delta = marker.embed(flat, RENDER_ID).astype(np.int16) - flat
    assert np.abs(delta).max() <= 4
    assert np.sqrt(np.mean(delta.astype(np.float64) ** 2)) < 1.5


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_watermark_survives_attack_on_astronaut(marker, marked_astronaut, attack):
    found = marker.detect(ATTACKS[attack](marked_astronaut))
    assert found.found and found.payload == RENDER_ID, attack


KNOWN_MISSES = {  # measured limit: halved, this 640x280 group photo is 320x140, about 2 x 5 tiles of 64 px
    ("pd_nasa_astronaut_class_group.jpg", "half_size"),
}


@pytest.mark.parametrize("name", ["syn_SFHQ_pt1_00000161.jpg", "syn_SFHQ_pt2_00001843.jpg", "pd_nasa_astronaut_class_group.jpg"])
@pytest.mark.parametrize("attack", ["jpeg_q50", "crop_half_area", "screenshot", "half_size"])
def test_watermark_survives_attack_on_shared_faces(marker, name, attack, request):
    if (name, attack) in KNOWN_MISSES:
        request.applymarker(pytest.mark.xfail(reason="known miss: too few tiles left to read 104 coded bits", strict=False))
    image = cv2.imread(str(shared(name)))[:, :, ::-1].copy()
    found = marker.detect(ATTACKS[attack](marker.embed(image, RENDER_ID ^ 0xFF)))
    assert found.found and found.payload == RENDER_ID ^ 0xFF


def test_jpeg_q50_crop_to_half_area_reads_at_any_offset(marker, marked_astronaut):
    offsets = [(y, x) for y in (0.0, 0.37, 0.7, 1.0) for x in (0.0, 0.5, 1.0)]
    misses = [o for o in offsets if marker.detect(_crop_half_area(_jpeg(marked_astronaut, 50), *o)).payload != RENDER_ID]
    assert misses == []


@pytest.fixture(scope="module")
def marked_1080p(marker, astronaut):
    return marker.embed(cv2.resize(astronaut, (1920, 1080), interpolation=cv2.INTER_CUBIC), RENDER_ID)


@pytest.mark.parametrize("attack", ["none", "crop_half_area", "half_size", "screenshot", "jpeg_q30"])
def test_1080p_frame_survives_attack(marker, marked_1080p, attack):
    attacked = ATTACKS[attack](marked_1080p)
    if attack == "crop_half_area":
        attacked = _jpeg(_crop_half_area(marked_1080p, 0.8, 0.15), 50)
    found = marker.detect(attacked)
    assert found.found and found.payload == RENDER_ID


def test_other_key_finds_nothing(marked_astronaut):
    assert not Watermarker(b"some other studio key").detect(marked_astronaut).found


def test_video_frames_pool_evidence(marker):
    rng = np.random.default_rng(0)
    base = data.astronaut()
    frames = [np.roll(base, i, axis=1) for i in range(0, 16, 2)]
    marked = marker.embed_frames(frames, RENDER_ID)
    noisy = [np.clip(f + rng.normal(0, 8, f.shape), 0, 255).astype(np.uint8) for f in marked]
    pooled = marker.detect_frames(_jpeg(f, 50) for f in noisy)
    assert pooled.found and pooled.payload == RENDER_ID


def test_video_survives_h264_crf28_at_half_size(marker):
    """The pipeline marks video at twice the image period (Watermarker(video=True)), pooled over frames."""
    import io

    import av

    from likeness import media

    with media.read_frames(shared("syn_motion_SFHQ_pt1_00000161_5s.mp4")) as reader:
        frames = [f.image for _, f in zip(range(24), reader)]
    marked = Watermarker(PUBLIC_KEY, video=True).embed_frames(frames, RENDER_ID)
    buf = io.BytesIO()
    h, w = marked[0].shape[:2]
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "28"})
        stream.width, stream.height, stream.pix_fmt = w // 2, h // 2, "yuv420p"
        for image in marked:
            small = cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(small, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buf.seek(0)
    with av.open(buf) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    found = marker.detect_frames(decoded)
    assert found.found and found.payload == RENDER_ID
    assert not marker.detect_frames([cv2.resize(f, (w // 2, h // 2)) for f in frames]).found  # the unmarked clip


def test_false_positive_bound_is_below_one_in_a_billion():
    assert FALSE_POSITIVE_BOUND <= 1e-9


def test_no_false_alarm_on_unmarked_images(marker):
    """200 unmarked images: natural crops, noise, flat colours (the 2000+ count is benchmarks/watermark.py)."""
    rng = np.random.default_rng(7)
    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB)]
    images = []
    while len(images) < 160:
        src = sources[len(images) % len(sources)]
        h, w = src.shape[:2]
        ch, cw = int(rng.integers(128, h)), int(rng.integers(128, w))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = src[y : y + ch, x : x + cw]
        images.append(_jpeg(crop, int(rng.integers(30, 95))) if rng.random() < 0.5 else crop)
    for i in range(20):
        images.append(rng.integers(0, 256, (160 + i, 200, 3), dtype=np.uint8))
    for i in range(20):
        images.append(np.full((200, 240 + i, 3), rng.integers(0, 256, 3), dtype=np.uint8))
    hits = [i for i, im in enumerate(images) if marker.detect(im).found]
    assert hits == []


def test_bad_input_is_one_clear_error(marker):
    with pytest.raises(InputError):
        marker.embed(np.zeros((10, 10), np.uint8), 1)
    with pytest.raises(InputError):
        marker.embed(np.zeros((64, 64, 3), np.uint8), 1 << 64)
