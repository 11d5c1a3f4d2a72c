"""Writing video (audio copied untouched), PNG sequences and the progress bar."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from rich.console import Console

from conftest import shared
from likeness.media import (
    MediaError,
    SequenceWriter,
    VideoWriter,
    probe,
    read_frames,
    read_image,
    track_progress,
    write_sequence,
)


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def audio_samples(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0))


def roundtrip(source: Path, target: Path, **options) -> VideoWriter:
    info = probe(source)
    with VideoWriter(target, width=info.width, height=info.height, fps=info.fps, audio_from=source, **options) as writer:
        for frame in read_frames(source):
            writer.write(frame.image, frame.time)
    return writer


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_grid_roundtrip_keeps_frames_rate_and_audio(tmp_path: Path, suffix: str) -> None:
    source = shared("grid_bbaf2n.mpg")
    target = tmp_path / f"out{suffix}"
    writer = roundtrip(source, target, preset="veryfast")
    before, after = probe(source), probe(target)
    assert writer.frames_written == after.frame_count == before.frame_count == 75
    assert after.fps == pytest.approx(before.fps)
    assert (after.width, after.height) == (360, 288)
    assert after.codec == "h264" and after.has_audio
    # Stream copy: the very same MPEG-1 layer II packets, not a re-encode. (FFmpeg's mp4 demuxer
    # labels MPEG-1 audio as mp3, whose decoder also decodes layer II; .mov keeps the name mp2.)
    assert audio_packets(target) == audio_packets(source)
    assert audio_samples(target) == audio_samples(source)
    assert after.audio_codec in ({"mp2", "mp3float", "mp3"} if suffix == ".mp4" else {"mp2"})
    assert after.duration == pytest.approx(before.duration, abs=0.1)
    first_in, first_out = next(iter(read_frames(source))), next(iter(read_frames(target)))
    assert np.abs(first_in.image.astype(int) - first_out.image).mean() < 3


def test_written_vfr_times_survive(tmp_path: Path, astronaut: np.ndarray) -> None:
    times = [0.0, 0.04, 0.3, 0.34, 1.0]
    with VideoWriter(tmp_path / "vfr.mp4", width=512, height=512, fps=25, preset="ultrafast") as writer:
        for t in times:
            writer.write(astronaut, t)
    assert [f.time for f in read_frames(tmp_path / "vfr.mp4")] == pytest.approx(times, abs=1e-3)


def test_output_is_tagged_bt709_and_reads_back_true_to_colour(tmp_path: Path, astronaut: np.ndarray) -> None:
    with VideoWriter(tmp_path / "c.mp4", width=512, height=512, fps=25, crf=12, preset="ultrafast") as writer:
        writer.write(astronaut)
    with av.open(str(tmp_path / "c.mp4")) as container:
        frame = next(container.decode(video=0))
        assert (frame.colorspace, frame.color_range) == (1, 1)  # BT.709, limited range
    back = next(iter(read_frames(tmp_path / "c.mp4"))).image
    assert np.abs(back.astype(int) - astronaut).mean() < 3
    assert np.abs(back.astype(float).mean(axis=(0, 1)) - astronaut.mean(axis=(0, 1))).max() < 1.5


def test_odd_size_is_padded_to_even(tmp_path: Path, astronaut: np.ndarray) -> None:
    image = np.ascontiguousarray(astronaut[:101, :77])
    with VideoWriter(tmp_path / "odd.mp4", width=77, height=101, fps=10, preset="ultrafast") as writer:
        writer.write(image)
        writer.write(image)
    frame = next(iter(read_frames(tmp_path / "odd.mp4")))
    assert frame.image.shape == (102, 78, 3)
    assert np.abs(frame.image[:101, :77].astype(int) - image).mean() < 4


def test_silent_source_gives_silent_output(tmp_path: Path) -> None:
    source = shared("syn_motion_SFHQ_pt1_00000161_5s.mp4")
    with VideoWriter(tmp_path / "s.mp4", width=512, height=512, fps=25, audio_from=source, preset="ultrafast") as writer:
        for frame in read_frames(source):
            if frame.index == 5:
                break
            writer.write(frame.image, frame.time)
    info = probe(tmp_path / "s.mp4")
    assert info.frame_count == 5 and not info.has_audio


def mulaw_wav(path: Path) -> Path:
    """A one-second mu-law WAV: an audio codec that .mov can hold and .mp4 cannot."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_mulaw", rate=8000)
        stream.layout = "mono"
        samples = (np.sin(np.arange(8000) / 3.0) * 8000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def test_audio_the_container_cannot_hold_is_refused_clearly(tmp_path: Path, astronaut: np.ndarray) -> None:
    wav = mulaw_wav(tmp_path / "voice.wav")
    with pytest.raises(MediaError) as info:
        VideoWriter(tmp_path / "out.mp4", width=512, height=512, fps=25, audio_from=wav)
    message = str(info.value)
    assert "pcm_mulaw" in message and str(wav) in message and ".mov" in message
    with VideoWriter(tmp_path / "out.mov", width=512, height=512, fps=25, audio_from=wav, preset="ultrafast") as writer:
        for i in range(25):
            writer.write(astronaut)
    assert probe(tmp_path / "out.mov").audio_codec == "pcm_mulaw"
    assert audio_packets(tmp_path / "out.mov") == audio_packets(wav)


def test_audio_stays_in_sync_when_the_source_starts_late(tmp_path: Path, astronaut: np.ndarray) -> None:
    # A clip cut from a longer one: its clock starts at 1 s, the audio 0.2 s after the video.
    # Frames come out from 0 and the copied audio must move with them.
    source = tmp_path / "late.mkv"
    with av.open(str(source), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 128, 128, "yuv420p"
        video.options = {"preset": "ultrafast"}
        audio = out.add_stream("mp2", rate=48000)
        audio.layout = "mono"
        tone = (np.sin(np.arange(48000) / 4.0) * 9000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48000, 57600, Fraction(1, 48000)
        out.mux(audio.encode(frame))
        out.mux(audio.encode())
        for i in range(25):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(astronaut[:128, :128]), format="rgb24")
            vf.pts, vf.time_base = 25 + i, Fraction(1, 25)
            out.mux(video.encode(vf))
        out.mux(video.encode())
    with av.open(str(source)) as container:
        assert container.start_time == pytest.approx(1_000_000, abs=1000)  # the premise
        lag = float(container.streams.audio[0].start_time * container.streams.audio[0].time_base) - float(
            container.streams.video[0].start_time * container.streams.video[0].time_base
        )
    roundtrip(source, tmp_path / "out.mp4", preset="ultrafast")
    with av.open(str(tmp_path / "out.mp4")) as container:
        a, v = container.streams.audio[0], container.streams.video[0]
        first_audio = next(p for p in container.demux(a) if p.size)
        new_lag = float(first_audio.pts * a.time_base) - float(v.start_time * v.time_base)
    assert lag == pytest.approx(0.2, abs=0.01)
    assert new_lag == pytest.approx(lag, abs=0.01)


def test_writer_refuses_wrong_frames_and_empty_output(tmp_path: Path, astronaut: np.ndarray) -> None:
    with pytest.raises(MediaError, match="expected uint8"):
        with VideoWriter(tmp_path / "w.mp4", width=256, height=256, fps=25) as writer:
            writer.write(astronaut)
    with pytest.raises(MediaError, match="no frames"):
        with VideoWriter(tmp_path / "e.mp4", width=256, height=256, fps=25):
            pass
    with pytest.raises(MediaError, match="cannot create"):
        VideoWriter(tmp_path / "missing" / "dir" / "x.mp4", width=256, height=256, fps=25)
    with pytest.raises(MediaError, match="cannot create"):
        VideoWriter(tmp_path / "x.nosuchformat", width=256, height=256, fps=25)
    with pytest.raises(MediaError, match="cannot hold libx264"):
        VideoWriter(tmp_path / "x.webm", width=256, height=256, fps=25)
    with pytest.raises(MediaError, match="not found"):
        VideoWriter(tmp_path / "x.mp4", width=256, height=256, fps=25, audio_from=tmp_path / "nope.mpg")


def test_png_sequence_is_lossless_and_numbered(tmp_path: Path, astronaut: np.ndarray) -> None:
    images = [astronaut, astronaut[::-1].copy(), astronaut[:, ::-1].copy()]
    paths = write_sequence(tmp_path / "seq", images)
    assert [p.name for p in paths] == ["frame_000001.png", "frame_000002.png", "frame_000003.png"]
    for path, image in zip(paths, images):
        assert np.array_equal(read_image(path), image)
    with pytest.raises(MediaError, match="already exists"):
        with SequenceWriter(tmp_path / "seq") as writer:
            writer.write(astronaut)


def test_grid_frames_to_sequence(tmp_path: Path) -> None:
    reader = read_frames(shared("grid_bbaf2n.mpg"))
    frames = [f for f in reader if f.index < 3]
    paths = write_sequence(tmp_path / "grid", frames)
    assert len(paths) == 3 and np.array_equal(read_image(paths[2]), frames[2].image)


def test_progress_yields_everything_and_stays_quiet_off_a_terminal() -> None:
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=False)
    assert list(track_progress(range(7), 7, "frames", console=console)) == list(range(7))
    assert sink.getvalue() == ""
    shown = io.StringIO()
    terminal = Console(file=shown, force_terminal=True, width=80)
    assert list(track_progress(iter(range(3)), None, "frames", console=terminal)) == [0, 1, 2]
    assert "frames" in shown.getvalue()
