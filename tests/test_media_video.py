"""Reading video: real clips, frame counts, times, rotation, and clear refusals."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import shared
from likeness.media import MediaError, is_video, probe, read_frames, rotate_upright


def test_grid_talking_head_is_probed() -> None:
    info = probe(shared("grid_bbaf2n.mpg"))
    assert info.kind == "video"
    assert (info.width, info.height) == (360, 288)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == 75
    assert info.has_audio and info.audio_codec == "mp2"
    assert info.duration == pytest.approx(3.0, abs=0.1)


def test_grid_frames_have_real_times() -> None:
    reader = read_frames(shared("grid_bbaf2n.mpg"))
    frames = list(reader)
    assert len(frames) == 75 and reader.skipped == 0
    assert [f.index for f in frames] == list(range(75))
    assert frames[0].time == pytest.approx(0.0, abs=1e-6)
    assert np.diff([f.time for f in frames]) == pytest.approx(0.04)
    first = frames[0].image
    assert first.dtype == np.uint8 and first.shape == (288, 360, 3)
    assert first.std() > 20  # a real picture, not a blank


def test_synthetic_motion_clip_reads_every_frame() -> None:
    path = shared("syn_motion_SFHQ_pt1_00000161_5s.mp4")
    info = probe(path)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (512, 512, 125, False)
    times = [f.time for f in read_frames(path)]
    assert len(times) == 125 and times[-1] == pytest.approx(4.96)


def test_is_video_tells_kinds_apart(tmp_path: Path, astronaut: np.ndarray) -> None:
    assert is_video(shared("grid_bbaf2n.mpg"))
    assert not is_video(shared("syn_SFHQ_pt1_00000161.jpg"))


def encode_clip(path: Path, images: list[np.ndarray], *, rotation: float | None = None, fps: int = 10) -> None:
    """A tiny H.264 clip made with PyAV directly (independent of our writer)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for image in images:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())


def test_display_matrix_rotation_is_applied(tmp_path: Path, astronaut: np.ndarray) -> None:
    # A phone clip stored landscape with "rotate 90 clockwise to view": PyAV's rotation is -90.
    upright = np.ascontiguousarray(astronaut[:, :320])  # 512 tall, 320 wide
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # what the sensor wrote: 320 x 512
    encode_clip(tmp_path / "phone.mp4", [stored] * 3, rotation=-90)
    info = probe(tmp_path / "phone.mp4")
    assert info.rotation == -90
    assert (info.width, info.height) == (320, 512)
    frame = next(iter(read_frames(tmp_path / "phone.mp4")))
    assert frame.image.shape == upright.shape
    assert np.abs(frame.image.astype(int) - upright).mean() < 4


def test_rotate_upright_turns_counter_clockwise(astronaut: np.ndarray) -> None:
    assert np.array_equal(rotate_upright(astronaut, 90), np.rot90(astronaut, 1))
    assert np.array_equal(rotate_upright(astronaut, -90), np.rot90(astronaut, -1))
    assert np.array_equal(rotate_upright(astronaut, 180), astronaut[::-1, ::-1])
    assert rotate_upright(astronaut, 0) is astronaut


def test_variable_frame_rate_times_are_kept(tmp_path: Path, astronaut: np.ndarray) -> None:
    times = [0.0, 0.1, 0.15, 0.5, 0.55]
    with av.open(str(tmp_path / "vfr.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=20)
        stream.width, stream.height = 128, 128
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for t in times:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(astronaut[:128, :128]), format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    got = [f.time for f in read_frames(tmp_path / "vfr.mp4")]
    assert got == pytest.approx(times, abs=1e-3)


def refusal(path: Path) -> str:
    with pytest.raises(MediaError) as info:
        read_frames(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and info.value.exit_code == 2
    with pytest.raises(MediaError):
        probe(path)
    return message


def test_text_file_named_mp4_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fake.mp4").write_text("this is not a video\n")
    assert "not a video" in refusal(tmp_path / "fake.mp4")


def test_unknown_suffix_is_probed_by_content(tmp_path: Path, astronaut: np.ndarray) -> None:
    encode_clip(tmp_path / "clip.mp4", [astronaut] * 2)
    (tmp_path / "clip.mp4").rename(tmp_path / "clip.bin")
    assert probe(tmp_path / "clip.bin").kind == "video" and is_video(tmp_path / "clip.bin")
    (tmp_path / "notes.txt").write_text("neither\n")
    with pytest.raises(MediaError, match="not an image or video"):
        probe(tmp_path / "notes.txt")


def test_empty_and_missing_videos_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty" in refusal(tmp_path / "empty.mp4")
    assert "not found" in refusal(tmp_path / "missing.mp4")


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        samples = (np.sin(np.arange(16000) / 5.0) * 0.3).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    assert "no video stream" in refusal(path)


def test_corrupt_frame_in_the_middle_is_skipped_and_counted(tmp_path: Path, astronaut: np.ndarray) -> None:
    images = [np.ascontiguousarray(np.roll(astronaut, 8 * i, axis=1)) for i in range(30)]
    encode_clip(tmp_path / "ok.mp4", images)
    with av.open(str(tmp_path / "ok.mp4")) as container:
        packets = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray((tmp_path / "ok.mp4").read_bytes())
    pos, size = packets[15]  # zero one compressed frame in the middle
    data[pos : pos + size] = bytes(size)
    (tmp_path / "bad.mp4").write_bytes(bytes(data))
    reader = read_frames(tmp_path / "bad.mp4")
    frames = list(reader)
    assert reader.skipped >= 1
    assert len(frames) + reader.skipped == 30
    times = [f.time for f in frames]
    assert times == sorted(times) and times[-1] == pytest.approx(2.9)
    assert np.abs(frames[-1].image.astype(int) - images[-1]).mean() < 8


def test_oversized_video_frames_are_refused_before_decoding() -> None:
    path = shared("grid_bbaf2n.mpg")
    with pytest.raises(MediaError, match="exceed the limit"):
        read_frames(path, max_pixels=360 * 287)
