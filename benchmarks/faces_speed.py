"""Detection + mesh + tracking time per frame at 720p and 1080p (upscaled real clips).

Run: .venv/bin/python benchmarks/faces_speed.py [FRAMES]
The clips are letterboxed up to each size (the faces grow with them), so the figure includes the
tile pyramid a large frame needs. CPU only; noisy when other processes load the machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

from likeness.faces import FaceAnalyzer, analyze_video
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


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with FaceAnalyzer() as analyzer:
        analyzer.detect(letterbox(next(iter(read_frames(MEDIA / CLIPS[0]))).image, 640, 360))  # load models
        for clip in CLIPS:
            source = [f for _, f in zip(range(count), read_frames(MEDIA / clip))]
            for label, (width, height) in SIZES.items():
                frames = [Frame(f.index, f.time, letterbox(f.image, width, height)) for f in source]
                start = time.perf_counter()
                found = sum(len(faces) for _, faces in analyze_video(frames, analyzer))
                ms = (time.perf_counter() - start) * 1000 / len(frames)
                print(f"{clip:40} {label:6} {ms:7.1f} ms/frame  ({len(frames)} frames, {found / len(frames):.1f} faces/frame)")


if __name__ == "__main__":
    main()
