"""Which target faces get swapped: --reference and --face on a photo with eight synthetic people."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from likeness import media
from likeness.faces import distance
from likeness.render import render
from tests.conftest import shared
from tests.test_render_pipeline import _job, studio  # noqa: F401 - shared fixture


def _changed(before: np.ndarray, after: np.ndarray, box) -> float:
    x, y, w, h = box
    return float(np.abs(after[y:y + h, x:x + w].astype(int) - before[y:y + h, x:x + w]).mean())


def _watermark_level(before: np.ndarray, after: np.ndarray, faces) -> float:
    """Mean change away from every face: what the invisible watermark alone does."""
    away = np.ones(before.shape[:2], bool)
    for face in faces:
        x, y, w, h = face.box
        away[max(0, y - h // 2):y + h + h // 2, max(0, x - w // 2):x + w + w // 2] = False
    return float(np.abs(after[away].astype(int) - before[away]).mean())


@pytest.fixture(scope="module")
def grid(studio):
    path = shared("syn_SFHQ_sample_2x4_grid_8faces.jpg")
    image = media.read_image(path)
    faces = studio.analyzer.detect(image)
    assert len(faces) >= 4
    return path, image, faces


def test_reference_photo_picks_the_face_most_like_it(studio, grid, tmp_path):
    path, image, faces = grid
    wanted = faces[2]
    x, y, w, h = wanted.box
    pad = w // 2
    crop = image[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad]
    reference = tmp_path / "reference.png"
    PILImage.fromarray(crop).save(reference)  # a test input (a synthetic face), not an output
    out = tmp_path / "out.png"
    render(_job(studio, path, out, reference=reference), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    result = media.read_image(out)
    changes = [_changed(image, result, f.box) for f in faces]
    level = _watermark_level(image, result, faces)
    assert int(np.argmax(changes)) == 2
    assert changes[2] > 5 * level
    assert sorted(changes)[-2] < 0.25 * changes[2], (changes, level)  # every other face only carries the watermark


def test_face_all_swaps_every_face(studio, grid, tmp_path):
    path, image, faces = grid
    out = tmp_path / "all.png"
    record = render(_job(studio, path, out, face="all"), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    result = media.read_image(out)
    # Identity moved for every face (the watermark alone leaves dlib's embedding where it was),
    # except where the grid already shows the enrolled person: a swap onto oneself moves little.
    source = studio.analyzer.embed(studio.source, studio.analyzer.detect(studio.source)[0])
    others = [f for f in faces if distance(studio.analyzer.embed(image, f), source) > 0.6]
    assert len(others) >= len(faces) - 1
    moved = [round(distance(studio.analyzer.embed(image, f), studio.analyzer.embed(result, f)), 2) for f in others]
    assert record.settings["failed_frames"] == 0
    assert min(moved) > 0.15, moved


def test_a_briefly_lost_face_keeps_its_last_swap(studio):
    from itertools import islice

    from likeness import swap
    from likeness.faces import analyze_video
    from likeness.render import FrameSwapper
    from likeness.render.selection import plan_swaps

    frames = list(islice(media.read_frames(shared("grid_bbaf2n.mpg")), 12))
    found = [faces for _, faces in analyze_video(frames, studio.analyzer)]
    found[6] = found[7] = []  # the detector misses the speaker for two frames
    selected, holds = plan_swaps(found, "largest", max_gap=6)
    assert selected[6] == selected[7] == [] and holds[6] == holds[7] == [found[5][0].track]
    engine = swap.make_engine("retrieval")
    engine.prepare(studio.vault.faceset("alice"))
    swapper = FrameSwapper(engine, colour="reinhard", blend="laplacian")
    out = [swapper(f.image, selected[f.index], holds[f.index], f.time) for f in frames]
    x, y, w, h = found[5][0].box
    change = [float(np.abs(o[y:y + h, x:x + w].astype(int) - f.image[y:y + h, x:x + w]).mean()) for o, f in zip(out, frames)]
    assert min(change[6:8]) > 0.5 * change[5]  # held, not popped back to the original face
    assert swapper.failed_frames == 0 and swapper.swapped_frames == 12
