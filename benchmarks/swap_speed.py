"""Engine + composite milliseconds per frame at 720p, one face (detection not included).

The target is an SFHQ still letterboxed into 1280x720 (face about 330 px high) or, without the
shared media, the astronaut scaled up; the source is another SFHQ face (or the mirrored
astronaut). Figures taken while other work loads the CPU are noisy: say so when quoting them.

    .venv/bin/python benchmarks/swap_speed.py [--frames 40] [--fill 0.7] [--work-size PX]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from likeness.faces import FaceAnalyzer
from likeness.swap import TemporalSmoother, composite, make_engine, make_faceset

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def read(name: str) -> np.ndarray | None:
    path = MEDIA / name
    return cv2.imread(str(path))[..., ::-1].copy() if path.is_file() else None


def frame_720p(image: np.ndarray, fill: float = 0.7) -> np.ndarray:
    """The image scaled to ``fill`` x 720 px high, centred in a 1280x720 frame (cropped if larger)."""
    scale = 720 / image.shape[0] * fill
    small = cv2.resize(image, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    h, w = min(small.shape[0], 720), min(small.shape[1], 1280)
    sy, sx = (small.shape[0] - h) // 2, (small.shape[1] - w) // 2
    y, x = (720 - h) // 2, (1280 - w) // 2
    canvas[y:y + h, x:x + w] = small[sy:sy + h, sx:sx + w]
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fill", type=float, default=0.7,
                        help="target image height / 720 (0.7: face about 315 px high; 1.4: about 630 px, "
                             "as in pipeline_speed's clip)")
    parser.add_argument("--work-size", type=int, default=None,
                        help="retrieval engine work_size (default: the engine's; 0: full size)")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    target = read("syn_SFHQ_pt2_00003040.jpg")
    source = read("syn_SFHQ_pt1_00000161.jpg")
    if target is None or source is None:
        target, source = data.astronaut(), np.ascontiguousarray(data.astronaut()[:, ::-1])
    frame = frame_720p(target, args.fill)
    options = {} if args.work_size is None else {"work_size": args.work_size or None}
    with FaceAnalyzer() as analyzer:
        faceset = make_faceset([source], analyzer)
        face = analyzer.detect(frame)[0]
    print(f"frame {frame.shape[1]}x{frame.shape[0]}, face box {face.box}, cv2 threads {args.threads}, "
          f"engine options {options or 'default'}")
    for colour, blend in (("reinhard", "laplacian"), ("none", "laplacian"), ("reinhard", "poisson")):
        engine = make_engine("retrieval", **options)
        engine.prepare(faceset)
        smoother = TemporalSmoother()
        swap_ms, comp_ms = [], []
        rng = np.random.default_rng(0)
        for i in range(args.frames):
            moved = type(face)(face.box, face.score, face.landmarks + rng.normal(0, 0.3, face.landmarks.shape).astype(np.float32), face.pose)
            t0 = time.perf_counter()
            patch = engine.swap(frame, moved)
            t1 = time.perf_counter()
            composite(frame, patch, colour=colour, blend=blend, smoother=smoother, track=1)
            t2 = time.perf_counter()
            if i >= 3:  # warm-up frames excluded
                swap_ms.append((t1 - t0) * 1e3)
                comp_ms.append((t2 - t1) * 1e3)
        total = np.median(swap_ms) + np.median(comp_ms)
        print(f"{colour:9s} {blend:9s} swap {np.median(swap_ms):6.1f} ms  composite {np.median(comp_ms):6.1f} ms"
              f"  total {total:6.1f} ms  = {1000 / total:5.1f} fps (medians of {len(swap_ms)})")


if __name__ == "__main__":
    main()
