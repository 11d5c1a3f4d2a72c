"""Quality figures of the retrieval engine on the ../shared/media pairs (issue 4).

Per image pair: dlib distance of the output face to the source and to the target (aim: < 0.6 to
the source, > 0.6 to the target), and mouth/eye landmark error against the target normalised by
the inter-ocular distance (expression kept). Per GRID talking-head clip: % of frames passing both
distances, the same landmark error, and frame-to-frame landmark jitter of the output against
the target's own. Side-by-side PNGs (source | target | output) go to bench-output/swap_quality/.

    .venv/bin/python benchmarks/swap_quality.py [--frames 75] [--colour reinhard] [--blend laplacian]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from likeness.faces import FaceAnalyzer, distance
from likeness.faces.tracking import Tracker
from likeness.swap import TemporalSmoother, composite, make_engine, make_faceset

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "bench-output" / "swap_quality"
MOUTH = [13, 14, 78, 308, 61, 291, 0, 17]
EYES = [159, 145, 33, 133, 386, 374, 362, 263]

IMAGE_PAIRS = [
    ("syn_SFHQ_pt1_00000161.jpg", "syn_SFHQ_pt2_00003040.jpg"),
    ("syn_SFHQ_pt2_00001843.jpg", "syn_SFHQ_pt2_00001286.jpg"),
    ("syn_SFHQ_pt2_00002324.jpg", "syn_SFHQ_pt1_00002875.jpg"),
    ("syn_SFHQ_pt2_00003124.jpg", "syn_SFHQ_pt2_00003040.jpg"),
    ("syn_SFHQ_pt2_00003040.jpg", "syn_SFHQ_pt2_00002324.jpg"),
    ("syn_SFHQ_pt1_00002875.jpg", "syn_SFHQ_pt2_00003124.jpg"),
    ("syn_SFHQ_pt1_00000161.jpg", "astronaut"),
    ("syn_SFHQ_pt2_00001843.jpg", "astronaut"),
    ("syn_SFHQ_pt2_00003124.jpg", "astronaut"),
]
VIDEO_PAIRS = [
    ("syn_SFHQ_pt2_00001843.jpg", "grid_bbaf2n.mpg"),
    ("syn_SFHQ_pt1_00000161.jpg", "grid_lbax4n.mpg"),
    ("syn_SFHQ_pt2_00003124.jpg", "grid_swiz3n.mpg"),
]


def read(name: str) -> np.ndarray:
    if name == "astronaut":
        return data.astronaut()
    return cv2.imread(str(MEDIA / name))[..., ::-1].copy()


def iod(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[[33, 133]].mean(0)[:2] - landmarks[[362, 263]].mean(0)[:2]))


def expression_error(out_lm: np.ndarray, tgt_lm: np.ndarray, index: list[int]) -> float:
    """Landmark error after removing the intended shape move: positions relative to their group centre."""
    a = out_lm[index, :2] - out_lm[index, :2].mean(0)
    b = tgt_lm[index, :2] - tgt_lm[index, :2].mean(0)
    return float(np.linalg.norm(a - b, axis=1).mean()) / iod(tgt_lm)


def side_by_side(images: list[np.ndarray], height: int = 360) -> np.ndarray:
    scaled = [cv2.resize(im, (int(im.shape[1] * height / im.shape[0]), height), interpolation=cv2.INTER_AREA) for im in images]
    return np.concatenate(scaled, axis=1)


def save(name: str, image: np.ndarray) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(OUT / name), image[..., ::-1])


def image_pairs(analyzer, args) -> None:
    print("image pairs                                     d_src  d_tgt  pass  mouth_err eye_err  ms    d(source,target) before")
    passed = 0
    for source_name, target_name in IMAGE_PAIRS:
        source, target = read(source_name), read(target_name)
        faceset = make_faceset([source], analyzer)
        engine = make_engine("retrieval", shape_strength=args.shape)
        engine.prepare(faceset)
        face = analyzer.detect(target)[0]
        t0 = time.perf_counter()
        out = composite(target, engine.swap(target, face), colour=args.colour, blend=args.blend, relight=not args.no_relight)
        ms = (time.perf_counter() - t0) * 1e3
        found = analyzer.detect(out)
        if not found:
            print(f"{source_name[9:22]:>14} -> {target_name[:26]:26}  no face found in the output")
            continue
        emb = analyzer.embed(out, found[0])
        d_src = distance(emb, faceset.items[0].embedding)
        d_tgt = distance(emb, analyzer.embed(target, face))
        ok = d_src < 0.6 and d_tgt > 0.6
        before = distance(faceset.items[0].embedding, analyzer.embed(target, face))
        passed += ok
        print(f"{source_name[9:22]:>14} -> {target_name[:26]:26}  {d_src:5.3f}  {d_tgt:5.3f}  {'yes' if ok else 'NO ':4}"
              f"  {expression_error(found[0].landmarks, face.landmarks, MOUTH):7.3f}   {expression_error(found[0].landmarks, face.landmarks, EYES):6.3f}  {ms:5.0f}  {before:5.3f}")
        save(f"{source_name[4:-4]}_onto_{Path(target_name).stem}.png", side_by_side([source, target, out]))
    print(f"image pairs passing: {passed}/{len(IMAGE_PAIRS)}")


def jitter(series: list[np.ndarray]) -> float:
    """Mean second difference of the landmarks (pixels/frame^2) over inter-ocular distance."""
    if len(series) < 3:
        return float("nan")
    p = np.stack([s[:468, :2] for s in series])
    acc = np.linalg.norm(p[2:] - 2 * p[1:-1] + p[:-2], axis=2).mean(1)
    return float(acc.mean() / np.mean([iod(s) for s in series]))


def video_pairs(analyzer, args) -> None:
    print("video pairs                          frames pass%  d_src  d_tgt  mouth_err eye_err  jitter out/target  ms/frame")
    for source_name, clip in VIDEO_PAIRS:
        path = MEDIA / clip
        if not path.is_file():
            print(f"{clip}: not found, skipped")
            continue
        faceset = make_faceset([read(source_name)], analyzer)
        engine = make_engine("retrieval", shape_strength=args.shape)
        engine.prepare(faceset)
        tracker, smoother = Tracker(), TemporalSmoother()
        capture = cv2.VideoCapture(str(path))
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        rows, out_lms, tgt_lms, shown, times = [], [], [], [], []
        index = 0
        while index < args.frames:
            ok, bgr = capture.read()
            if not ok:
                break
            frame = bgr[..., ::-1].copy()
            faces = tracker.update(analyzer.detect(frame), index / fps)
            index += 1
            if not faces:
                continue
            face = faces[0]
            t0 = time.perf_counter()
            out = composite(frame, engine.swap(frame, face), colour=args.colour, blend=args.blend,
                            relight=not args.no_relight, smoother=smoother, track=face.track)
            times.append((time.perf_counter() - t0) * 1e3)
            found = analyzer.detect(out)
            if not found:
                rows.append((9.0, 0.0, np.nan, np.nan))
                continue
            emb = analyzer.embed(out, found[0])
            raw = analyzer.detect(frame)[0]
            rows.append((distance(emb, faceset.items[0].embedding), distance(emb, analyzer.embed(frame, raw)),
                         expression_error(found[0].landmarks, raw.landmarks, MOUTH),
                         expression_error(found[0].landmarks, raw.landmarks, EYES)))
            out_lms.append(found[0].landmarks)
            tgt_lms.append(raw.landmarks)
            if index in (10, 40, 70):
                shown.append(side_by_side([frame, out], 288))
        capture.release()
        r = np.array(rows)
        passing = np.mean((r[:, 0] < 0.6) & (r[:, 1] > 0.6)) * 100
        print(f"{source_name[9:22]:>14} -> {clip:18} {len(r):5d} {passing:5.1f}  {np.nanmean(r[:, 0]):5.3f}  {np.nanmean(r[:, 1]):5.3f}"
              f"  {np.nanmean(r[:, 2]):7.3f}   {np.nanmean(r[:, 3]):6.3f}  {jitter(out_lms):6.4f}/{jitter(tgt_lms):6.4f}  {np.median(times):6.1f}")
        if shown:
            save(f"{source_name[4:-4]}_onto_{Path(clip).stem}.png", np.concatenate(shown, axis=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=75)
    parser.add_argument("--colour", default="reinhard")
    parser.add_argument("--blend", default="laplacian")
    parser.add_argument("--no-relight", action="store_true")
    parser.add_argument("--shape", type=float, default=1.0)
    parser.add_argument("--skip-video", action="store_true")
    args = parser.parse_args()
    if not MEDIA.is_dir():
        print(f"shared media not found at {MEDIA}: nothing to measure")
        return
    with FaceAnalyzer() as analyzer:
        image_pairs(analyzer, args)
        if not args.skip_video:
            video_pairs(analyzer, args)
    print(f"side-by-side PNGs in {OUT}")


if __name__ == "__main__":
    main()
