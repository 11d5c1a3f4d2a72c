"""Peak memory of ``likeness swap`` on one-face clips at 720p, 1080p and 2160p, as a user runs it.

Run: .venv/bin/python benchmarks/render_memory.py [--seconds 2]

Each size is one fresh ``likeness swap`` process (the CLI, the real vault and grant of
benchmarks/startup.py's throw-away studio) on syn_motion_SFHQ_pt1_00000161_5s.mp4 upscaled to
that size; the peak resident set is read from the kernel (``ru_maxrss`` of the finished child),
so it counts the models, the decoded and marked frames in flight, x264's own buffers and the
fingerprint samples the record keeps. Wall time and the plain transcode of the same clip are
shown beside it for scale.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "media" / "syn_motion_SFHQ_pt1_00000161_5s.mp4"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "2160p": (3840, 2160)}


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def peak_of(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, peak resident MB and exit code of ``cmd`` run in a fresh helper process
    (so that the peak is this command's alone)."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    if not CLIP.is_file():
        print(f"skipped: {CLIP} not found", file=sys.stderr)
        return 0
    startup, transcode = _module("startup"), _module("transcode")
    likeness = str(Path(sys.executable).with_name("likeness"))
    print(f"{'size':6} {'frames':>6} {'swap wall s':>11} {'peak RSS MB':>11} {'transcode fps':>13} {'swap fps':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env, grant, _ = startup.make_studio(folder)
        for name, (w, h) in SIZES.items():
            clip = transcode.make_clip(CLIP, folder / f"{name}.mp4", w, h, args.seconds)
            frames = transcode.probe(clip).frame_count
            plain = transcode.transcode_fps(clip)
            out = folder / f"out_{name}.mp4"
            wall, peak, rc = peak_of([likeness, "swap", str(clip), "-o", str(out), "--identity", "bench", "--grant", grant], env)
            state = "" if rc == 0 else f"  (exit {rc})"
            print(f"{name:6} {frames:6d} {wall:11.1f} {peak:11.0f} {plain:13.1f} {frames / wall:8.1f}{state}")
    print("command: .venv/bin/python benchmarks/render_memory.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
