"""Decode + encode speed of likeness.media at 720p and 1080p: the floor any swap speed is read against.

Run: .venv/bin/python benchmarks/transcode.py [--seconds 2] [--source PATH]
Other benchmarks import :func:`transcode_fps` by path (benchmarks/ is not a package)::

    spec = importlib.util.spec_from_file_location("transcode", "benchmarks/transcode.py")

The clips are made in a temporary folder by upscaling a shared test clip (synthetic faces, MIT);
figures taken while other processes load the CPU are noisy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import av

from likeness.media import VideoWriter, probe, read_frames

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "media" / "syn_motion_SFHQ_pt1_00000161_5s.mp4"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def make_clip(source: Path, target: Path, width: int, height: int, seconds: float) -> Path:
    """Upscale the first ``seconds`` of ``source`` to width x height (H.264, near lossless, fast)."""
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        video = src.streams.video[0]
        stream = out.add_stream("libx264", rate=video.average_rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "16", "preset": "ultrafast"}
        for frame in src.decode(video):
            if frame.time is not None and frame.time >= seconds:
                break
            big = frame.reformat(width=width, height=height, format="yuv420p")
            big.pts = None
            out.mux(stream.encode(big))
        out.mux(stream.encode())
    return target


def decode_fps(path: Path) -> float:
    """Frames per second of read_frames alone (decode + RGB conversion + rotation)."""
    start = time.perf_counter()
    count = sum(1 for _ in read_frames(path))
    return count / (time.perf_counter() - start)


def transcode_fps(path: str | Path, *, preset: str | None = None, crf: int = 18) -> float:
    """Frames per second of read_frames -> VideoWriter (libx264, crf 18, default preset, audio copied).

    This is exactly the media work of a render with the face work taken out.
    """
    path = Path(path)
    info = probe(path)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        with VideoWriter(
            Path(folder) / "out.mp4", width=info.width, height=info.height, fps=info.fps,
            audio_from=path, crf=crf, preset=preset,
        ) as writer:
            for frame in read_frames(path):
                writer.write(frame.image, frame.time)
        return writer.frames_written / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each test clip")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--preset", default=None, help="x264 preset (default: x264's medium)")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"skipped: {args.source} not found", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        for name, (width, height) in SIZES.items():
            clip = make_clip(args.source, Path(folder) / f"{name}.mp4", width, height, args.seconds)
            frames = probe(clip).frame_count
            dec = decode_fps(clip)
            both = transcode_fps(clip, preset=args.preset)
            print(
                f"{name} ({width}x{height}, {frames} frames): decode {dec:.1f} fps, "
                f"decode+encode {both:.1f} fps (libx264 crf 18, preset {args.preset or 'medium'})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
