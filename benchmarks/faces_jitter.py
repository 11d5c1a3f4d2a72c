"""Landmark jitter on syn_motion_SFHQ_pt1_00000161_5s.mp4 before and after one-euro smoothing.

jitter = mean |second difference| of the 478 landmark positions over frames, in inter-ocular
distances (a smooth pan or zoom has a small second difference; detector noise a large one).
lag = mean |smoothed - raw| position, same unit (what smoothing costs on motion).
The last two lines are analyze_video's tracker-guided path (mesh on track crops between
detections): raw and smoothed, against detection on every frame above.
Run: .venv/bin/python benchmarks/faces_jitter.py [VIDEO] [--sweep]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from likeness.faces import FaceAnalyzer
from likeness.faces.tracking import Tracker, analyze_video
from likeness.media import read_frames

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def interocular(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[468, :2] - landmarks[473, :2]))


def jitter(series: list[np.ndarray]) -> float:
    """Mean abs second difference of xy landmarks, over inter-ocular distance."""
    pts = np.stack([s[:, :2] for s in series])
    scale = np.mean([interocular(s) for s in series])
    return float(np.abs(np.diff(pts, n=2, axis=0)).mean() / scale)


def track_series(detections: list[tuple[float, list]], tracker: Tracker) -> list[np.ndarray]:
    out = []
    for time, faces in detections:
        tracked = [f for f in tracker.update(faces[:1], time) if not f.bridged]
        if tracked:
            out.append(tracked[0].landmarks)
    return out


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = Path(args[0]) if args else MEDIA / "syn_motion_SFHQ_pt1_00000161_5s.mp4"
    with FaceAnalyzer(max_faces=1) as analyzer:
        detections = [(f.time, analyzer.detect(f.image)) for f in read_frames(path)]
    detections = [(t, faces) for t, faces in detections if faces]
    raw = track_series(detections, Tracker(smooth=False))
    print(f"{path.name}: {len(raw)} frames with a face")
    settings = [(1.0, 4.0)]
    if "--sweep" in sys.argv:
        settings = [(mc, b) for mc in (0.3, 0.6, 1.0, 2.0) for b in (0.5, 1.0, 4.0, 10.0)]
    print(f"raw        jitter {jitter(raw):.4f} IOD")
    for min_cutoff, beta in settings:
        smooth = track_series(detections, Tracker(min_cutoff=min_cutoff, beta=beta))
        lag = np.mean([np.abs(s[:, :2] - r[:, :2]).mean() / interocular(r) for s, r in zip(smooth, raw)])
        print(
            f"smoothed   jitter {jitter(smooth):.4f} IOD  lag {lag:.4f} IOD"
            f"  (min_cutoff={min_cutoff} Hz, beta={beta})"
        )
    with FaceAnalyzer(max_faces=1) as analyzer:
        for label, tracker in (("raw", Tracker(smooth=False)), ("smoothed", Tracker())):
            series = [faces[0].landmarks for _, faces in analyze_video(read_frames(path), analyzer, tracker) if faces and not faces[0].bridged]
            print(f"tracked {label:9} jitter {jitter(series):.4f} IOD  ({len(series)} frames, analyze_video)")


if __name__ == "__main__":
    main()
