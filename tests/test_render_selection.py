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


@pytest.mark.parametrize("spec", ["largest", "all"])
def test_streamed_plan_holds_brief_gaps_like_the_whole_target_plan(monkeypatch, tmp_path, spec):
    # The streamed swap hands a frame on as soon as nothing in it can be held; a frame where a
    # face is missing waits for the frames after it. Either way each frame's plan is the plan of
    # the whole target: gaps of up to hold_frames are held, longer ones are not.
    import likeness.render.pipeline as pipeline
    from likeness.faces.types import Face, Pose
    from likeness.render import RenderJob
    from likeness.render.selection import plan_swaps

    def face(track: int, size: int) -> Face:
        return Face(box=(10 * track, 0, size, size), score=0.9, landmarks=np.zeros((478, 3), np.float32),
                    pose=Pose(0.0, 0.0, 0.0), track=track)

    # track 0 large, with a 3-frame gap (held) and a 10-frame gap (not held); track 1 small, always there.
    present = [i not in range(10, 13) and i not in range(30, 40) for i in range(60)]
    script = [[face(0, 100)] * p + [face(1, 40)] for p in present]
    frames = [media.Frame(i, i / 25, np.zeros((4, 4, 3), np.uint8)) for i in range(60)]
    monkeypatch.setattr(pipeline, "_frames", lambda *a, **k: iter(frames))
    monkeypatch.setattr(pipeline.faces, "analyze_video", lambda decoded, analyzer: ((f, script[f.index]) for f in decoded))
    job = RenderJob(target=tmp_path / "t.mp4", output=tmp_path / "o.mp4", identity="a", grant_id="g", scope="film", face=spec)
    info = media.MediaInfo(path="t.mp4", kind="video", width=4, height=4, fps=25.0, frame_count=60, duration=2.4,
                           has_audio=False, rotation=0, codec="h264")
    analysis, selected, holds = pipeline._Analysis(faces=[]), [], []
    handed = [f.index for f in pipeline._streamed(job, info, None, False, analysis, selected, holds)]
    assert handed == list(range(60))
    whole = plan_swaps(script, spec, max_gap=int(job.option("hold_frames")))
    assert [[f.track for f in s] for s in selected] == [[f.track for f in s] for s in whole[0]]
    assert holds == whole[1]
    assert holds[11] == [0] and holds[35] == []  # the short gap is held, the long one is not
