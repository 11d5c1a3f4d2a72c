"""Face analysis time per frame at 720p and 1080p (upscaled real clips): full detection on every
frame against the tracker-guided video analysis.

Run: .venv/bin/python benchmarks/faces_speed.py [FRAMES] [--detect-every N]

For each clip and size it prints two lines:
  detect   FaceAnalyzer.detect on every frame (tile pyramid + mesh per face + pose + quality),
           what a still image costs and what analyze_video cost before it tracked;
  tracked  analyze_video (detection on key frames, mesh-only on track crops in between,
           smoothing, scene cuts), with the number of frames that ran the full detector.
Wall ms and CPU ms (process time, all threads) per frame; the CPU figure moves less when other
processes load the machine, the load average is printed first. The clips are letterboxed up
to each size (the faces grow with them), so the figure includes the tile pyramid a large frame
needs. CPU only.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from likeness.faces import FaceAnalyzer, analyze_video
from likeness.faces.tracking import DETECT_EVERY
from likeness.media import Frame, read_frames

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
CLIPS = ("grid_bbaf2n.mpg", "ccby_openmpf_video_01_multiface.mp4")


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_CUBIC)
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    out[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return out


class CountingAnalyzer(FaceAnalyzer):
    """Counts the full detections analyze_video asks for."""

    detections = 0

    def detect(self, image):
        self.detections += 1
        return super().detect(image)


def timed(run) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames", nargs="?", type=int, default=30)
    parser.add_argument("--detect-every", type=int, default=DETECT_EVERY)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; detect_every={args.detect_every}")
    with CountingAnalyzer() as analyzer:
        analyzer.detect(letterbox(next(iter(read_frames(MEDIA / CLIPS[0]))).image, 640, 360))  # load models
        for clip in CLIPS:
            source = [f for _, f in zip(range(args.frames), read_frames(MEDIA / clip))]
            for label, (width, height) in SIZES.items():
                frames = [Frame(f.index, f.time, letterbox(f.image, width, height)) for f in source]
                n = len(frames)
                wall, cpu, found = timed(lambda: sum(len(analyzer.detect(f.image)) for f in frames))
                print(f"{clip:38} {label:6} detect  {wall * 1000 / n:6.1f} ms/frame (cpu {cpu * 1000 / n:6.1f})  {found / n:.1f} faces/frame")
                analyzer.detections = 0
                wall, cpu, results = timed(lambda: [faces for _, faces in analyze_video(frames, analyzer, detect_every=args.detect_every)])
                found = sum(1 for faces in results for f in faces if not f.bridged)
                print(
                    f"{clip:38} {label:6} tracked {wall * 1000 / n:6.1f} ms/frame (cpu {cpu * 1000 / n:6.1f})  {found / n:.1f} faces/frame,"
                    f" {analyzer.detections}/{n} frames detected"
                )


if __name__ == "__main__":
    main()
