"""``likeness faces``: the JSON shape of issue 2, overlays, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image as PILImage

from conftest import shared
from likeness import media
from likeness.cli.main import main
from likeness.faces.drawing import draw_faces


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["faces", *map(str, args)])
    out = capsys.readouterr()
    return exit_info.value.code or 0, out.out, out.err


def test_image_json_has_one_frame_with_one_face(capsys, tmp_path, astronaut):
    path = tmp_path / "astronaut.png"
    PILImage.fromarray(astronaut).save(path)
    overlay = tmp_path / "overlay.png"
    code, out, _ = run_cli(capsys, path, "--json", "--render", overlay)
    assert code == 0
    report = json.loads(out)
    assert list(report) == ["frames"]
    (frame,) = report["frames"]
    assert set(frame) == {"index", "time", "faces"} and frame["index"] == 0 and frame["time"] == 0.0
    (face,) = frame["faces"]
    assert set(face) == {"box", "pose", "quality"}  # no track for a still
    assert len(face["box"]) == 4 and all(isinstance(v, int) for v in face["box"])
    assert set(face["pose"]) == {"yaw", "pitch", "roll"}
    assert 0.0 <= face["quality"]["overall"] <= 1.0
    drawn = media.read_image(overlay)
    assert drawn.shape == astronaut.shape and not np.array_equal(drawn, astronaut)


def test_talking_head_video_json_has_one_track_in_every_frame(capsys, tmp_path):
    overlay = tmp_path / "overlay.mp4"
    code, out, _ = run_cli(capsys, shared("grid_bbaf2n.mpg"), "--json", "--render", overlay)
    assert code == 0
    frames = json.loads(out)["frames"]
    assert len(frames) == 75
    assert [f["index"] for f in frames] == list(range(75))
    assert all(len(f["faces"]) == 1 and f["faces"][0]["track"] == 1 for f in frames)
    assert frames[1]["time"] == pytest.approx(0.04, abs=1e-3)
    info = media.probe(overlay)
    assert info.kind == "video" and (info.width, info.height) == (360, 288) and info.frame_count == 75


def test_grid_of_eight_faces_reports_eight(capsys):
    code, out, _ = run_cli(capsys, shared("syn_SFHQ_sample_2x4_grid_8faces.jpg"), "--json")
    assert code == 0 and len(json.loads(out)["frames"][0]["faces"]) == 8


@pytest.mark.parametrize("content", [None, b"", b"not an image at all"])
def test_bad_file_is_one_line_and_exit_2(tmp_path, content):
    path = tmp_path / "broken.jpg"
    if content is not None:
        path.write_bytes(content)
    out = subprocess.run([sys.executable, "-m", "likeness.cli.main", "faces", str(path)], capture_output=True, text=True)
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if line.startswith("likeness:")]
    assert len(errors) == 1 and str(path) in errors[0]
    assert "Traceback" not in out.stderr


def test_draw_faces_marks_the_face_and_leaves_the_input_alone(astronaut):
    from likeness.faces import FaceAnalyzer

    with FaceAnalyzer() as analyzer:
        faces = analyzer.detect(astronaut)
    before = astronaut.copy()
    drawn = draw_faces(astronaut, faces)
    assert np.array_equal(astronaut, before)
    x, y, w, h = faces[0].box
    changed = np.any(drawn != astronaut, axis=2)
    assert changed[y : y + h, x : x + w].mean() > 0.05  # landmarks drawn inside the box
    assert changed[:, 400:].mean() < 0.01  # nothing far from the face


def test_truncated_video_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "cut.mpg"
    path.write_bytes(shared("grid_bbaf2n.mpg").read_bytes()[:1000])
    out = subprocess.run([sys.executable, "-m", "likeness.cli.main", "faces", str(path)], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert str(path) in [line for line in out.stderr.splitlines() if line.startswith("likeness:")][0]
