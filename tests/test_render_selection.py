"""Which target faces get swapped: --reference and --face on a photo with eight synthetic people."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from likeness import media
from likeness.render import render
from tests.conftest import shared
from tests.test_render_pipeline import _job, pytestmark, studio  # noqa: F401 - shared fixture and skip reason


def _changed(before: np.ndarray, after: np.ndarray, box) -> float:
    x, y, w, h = box
    return float(np.abs(after[y:y + h, x:x + w].astype(int) - before[y:y + h, x:x + w]).mean())


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
    assert int(np.argmax(changes)) == 2
    assert sorted(changes)[-2] < 1.0  # every other face is left alone (the watermark moves pixels by less)


def test_face_all_swaps_every_face(studio, grid, tmp_path):
    path, image, faces = grid
    out = tmp_path / "all.png"
    record = render(_job(studio, path, out, face="all"), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    result = media.read_image(out)
    changes = [round(_changed(image, result, f.box), 1) for f in faces]
    assert min(changes) > 1.5, (changes, record.settings)  # watermark alone moves pixels by < 1
