"""Faces found against the counts the media README gives.

Run: .venv/bin/python benchmarks/faces_counts.py
Images: faces found vs expected. Videos: faces per frame (min / median / max), frames with at
least one face, and the number of distinct track ids.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from likeness.faces import FaceAnalyzer, analyze_video
from likeness.media import read_frames, read_image

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"

IMAGES = {
    "pd_nasa_astronaut_eileen_collins.png": "1",
    "syn_SFHQ_sample_2x4_grid_8faces.jpg": "8",
    "pd_nasa_astronaut_class_group.jpg": "~25",
    "syn_SFHQ_pt1_00000161.jpg": "1",
    "syn_SFHQ_pt2_00001843.jpg": "1",
}
VIDEOS = {
    "grid_bbaf2n.mpg": "1 per frame",
    "grid_swiz3n.mpg": "1 per frame",
    "syn_motion_SFHQ_pt1_00000161_5s.mp4": "1 per frame",
    "ccby_openmpf_video_01_multiface.mp4": "3-5 per frame",
    "ccby_tears_of_steel_10s.mp4": "a face in about half the frames; cuts",
}


def main() -> None:
    if not MEDIA.is_dir():
        raise SystemExit(f"test media not found at {MEDIA}")
    with FaceAnalyzer(max_faces=64) as analyzer:  # the default 16 would cap the class group
        print(f"{'file':44} {'expected':>10} {'found':>6} {'ms':>7}")
        for name, expected in IMAGES.items():
            image = read_image(MEDIA / name)
            start = time.perf_counter()
            faces = analyzer.detect(image)
            ms = (time.perf_counter() - start) * 1000
            print(f"{name:44} {expected:>10} {len(faces):>6} {ms:7.0f}")
        print()
        for name, expected in VIDEOS.items():
            counts, tracks, bridged = [], set(), 0
            for _, faces in analyze_video(read_frames(MEDIA / name), analyzer):
                counts.append(sum(1 for f in faces if not f.bridged))
                bridged += sum(1 for f in faces if f.bridged)
                tracks |= {f.track for f in faces}
            c = np.array(counts)
            print(
                f"{name}: expected {expected}; {len(c)} frames, {int((c > 0).sum())} with a face, detected per frame"
                f" min {c.min()} median {np.median(c):.0f} max {c.max()}, {len(tracks)} track ids, {bridged} bridged"
            )


if __name__ == "__main__":
    main()
