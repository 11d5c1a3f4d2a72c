"""Quality figures of the retrieval engine over every still pair and some clips of ../shared/media.

Per image pair (every source still onto every other still, frontal and the pose/glasses set):
- dlib distance of the output face to the source and to the target (aim < 0.6 / > 0.6);
- mouth and eye landmark error against the target, over the inter-ocular distance (aim <= 0.05),
  and the mouth-open error (inner-lip gap over mouth width, output minus target);
- the share of the output face whose pixels came from outside the source face hull (aim 0);
- the faceset's pose coverage of the target, and whether the face was left as it was;
- for a target wearing glasses (found by likeness.faces.occlusion), whether they survive.
Per GRID talking-head clip: % of frames passing both distances, the same errors, and
frame-to-frame landmark jitter of the output against the target's own. Side-by-side PNGs
(source | target | output) of a chosen set of pairs go to bench-output/swap_quality/.

    .venv/bin/python benchmarks/swap_quality.py [--frames 75] [--sources a.jpg,b.jpg] [--skip-video]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from likeness.faces import FaceAnalyzer, distance
from likeness.faces.tracking import Tracker
from likeness.swap import TemporalSmoother, composite, make_engine, make_faceset, shape
from likeness.swap.diagnostics import share_from_outside

try:  # the occlusion detectors (issue 12); older checkouts measure without them
    from likeness.faces import occlusion
except ImportError:  # pragma: no cover
    occlusion = None

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "bench-output" / "swap_quality"
MOUTH = [13, 14, 78, 308, 61, 291, 0, 17]
EYES = [159, 145, 33, 133, 386, 374, 362, 263]
VIDEO_PAIRS = [
    ("syn_SFHQ_pt2_00001843.jpg", "grid_bbaf2n.mpg"),
    ("syn_SFHQ_pt1_00000161.jpg", "grid_lbax4n.mpg"),
    ("syn_SFHQ_pt2_00003124.jpg", "grid_swiz3n.mpg"),
]
# Pairs saved side by side: every pose kind and every glasses wearer, as source and as target.
SHOWN_SOURCES = ("syn_SFHQ_pt1_00000161.jpg", "syn_SFHQ_pt2_00003124.jpg",
                 "syn_t2i_down_glasses_FLUX1_dev_image_0001577.jpg", "syn_t2i_threequarter_FLUX1_schnell_image_0017649.jpg")


def kind(name: str) -> str:
    for k in ("threequarter", "profile", "sideways", "up", "down_glasses"):
        if f"_{k}_" in name:
            return k
    return "frontal"


def stills() -> list[str]:
    names = sorted(p.name for p in MEDIA.glob("syn_*.jpg") if "grid" not in p.name)
    return names + ["astronaut"]


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


def mouth_open_error(out_lm: np.ndarray, tgt_lm: np.ndarray) -> float:
    return float(shape.expression(out_lm[:478])[0] - shape.expression(tgt_lm[:478])[0])


def side_by_side(images: list[np.ndarray], height: int = 360) -> np.ndarray:
    scaled = [cv2.resize(im, (int(im.shape[1] * height / im.shape[0]), height), interpolation=cv2.INTER_AREA) for im in images]
    return np.concatenate(scaled, axis=1)


def save(name: str, image: np.ndarray) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(OUT / name), image[..., ::-1])


def has_glasses(image: np.ndarray, face) -> bool | None:
    if occlusion is None:
        return None
    return bool(occlusion.glasses(image, np.asarray(face.landmarks)).present)


def image_pairs(analyzer, args) -> None:
    names = [n for n in stills() if n == "astronaut" or (MEDIA / n).is_file()]
    images = {n: read(n) for n in names}
    faces = {n: (analyzer.detect(images[n]) or [None])[0] for n in names}
    usable = [n for n in names if faces[n] is not None and "grid" not in n and "8faces" not in n]
    missing = [n for n in names if faces[n] is None]
    if missing:
        print(f"no face found (neither source nor target): {', '.join(missing)}")
    sources = args.sources.split(",") if args.sources else usable
    target_emb = {n: analyzer.embed(images[n], faces[n]) for n in usable}
    glasses = {n: has_glasses(images[n], faces[n]) for n in usable}
    print("source -> target                                    kind          d_src d_tgt pass  mouth  eyes  open   outside cover left glasses ms")
    rows = []
    for source_name in sources:
        faceset = make_faceset([images[source_name]], analyzer)
        engine = make_engine("retrieval", shape_strength=args.shape)
        engine.prepare(faceset)
        for target_name in usable:
            if target_name == source_name:
                continue
            target, face = images[target_name], faces[target_name]
            t0 = time.perf_counter()
            patch = engine.swap(target, face)
            out = composite(target, patch, colour=args.colour, blend=args.blend, relight=not args.no_relight)
            ms = (time.perf_counter() - t0) * 1e3
            left = patch.empty
            outside = share_from_outside(lambda: make_engine("retrieval", shape_strength=args.shape, hands=False), faceset, target, face)
            found = analyzer.detect(out)
            row = dict(source=source_name, target=target_name, kind=kind(target_name), ms=ms, left=left,
                       outside=outside, coverage=patch.coverage, src_kind=kind(source_name))
            if found:
                emb = analyzer.embed(out, found[0])
                row.update(d_src=distance(emb, faceset.items[0].embedding), d_tgt=distance(emb, target_emb[target_name]),
                           mouth=expression_error(found[0].landmarks, face.landmarks, MOUTH),
                           eyes=expression_error(found[0].landmarks, face.landmarks, EYES),
                           open=mouth_open_error(found[0].landmarks, face.landmarks))
                if glasses[target_name]:
                    row["glasses_kept"] = has_glasses(out, found[0])
            rows.append(row)
            r = defaultdict(lambda: float("nan"), row)
            ok = r["d_src"] < 0.6 and r["d_tgt"] > 0.6
            g = "" if "glasses_kept" not in row else ("kept" if row["glasses_kept"] else "LOST")
            print(f"{source_name[4:26]:>22} -> {target_name[4:30]:26} {row['kind']:13} {r['d_src']:5.3f} {r['d_tgt']:5.3f} "
                  f"{'yes' if ok else 'no ':4} {r['mouth']:6.3f} {r['eyes']:5.3f} {r['open']:+6.3f} {outside:7.4f} "
                  f"{patch.coverage:5.2f} {'left' if left else '':4} {g:7} {ms:4.0f}")
            if source_name in SHOWN_SOURCES and (target_name in SHOWN_SOURCES or kind(target_name) != "frontal"
                                                 or target_name in ("syn_SFHQ_pt2_00003040.jpg", "astronaut")):
                save(f"{source_name[4:-4]}_onto_{Path(target_name).stem}.png", side_by_side([images[source_name], target, out]))
        engine.close()
    summary(rows)


def summary(rows: list[dict]) -> None:
    """Per target kind: recognition and expression over the pairs swapped, the pairs left as they were."""
    print("\nby target kind   pairs  left  swapped: recognised  not-target  both  mouth<=.05  eyes<=.05  max mouth  max eyes  |open err|  outside>0")
    for k in ("frontal", "threequarter", "up", "down_glasses", "profile", "sideways"):
        group = [r for r in rows if r["kind"] == k]
        if not group:
            continue
        swapped = [r for r in group if not r["left"] and "d_src" in r]
        n = len(swapped)
        rec = sum(r["d_src"] < 0.6 for r in swapped)
        nt = sum(r["d_tgt"] > 0.6 for r in swapped)
        both = sum(r["d_src"] < 0.6 and r["d_tgt"] > 0.6 for r in swapped)
        left = sum(r["left"] for r in group)
        mouth = [r["mouth"] for r in swapped]
        eyes = [r["eyes"] for r in swapped]
        open_err = np.mean([abs(r["open"]) for r in swapped]) if swapped else float("nan")
        outside = sum(r["outside"] > 0.001 for r in group)
        print(f"{k:15} {len(group):6d} {left:5d}  {n:4d}: {rec:4d}/{n:<4d}  {nt:4d}/{n:<4d} {both:4d}  {sum(m <= 0.05 for m in mouth):5d}/{n:<4d}"
              f"  {sum(e <= 0.05 for e in eyes):5d}/{n:<4d}  {max(mouth, default=float('nan')):8.3f}  {max(eyes, default=float('nan')):8.3f}"
              f"  {open_err:9.3f}  {outside:6d}")
    lost = [r for r in rows if r.get("glasses_kept") is False]
    kept = [r for r in rows if r.get("glasses_kept") is True]
    print(f"largest share of a face from outside the source hull: {max(r['outside'] for r in rows):.4f}")
    print(f"target glasses kept (own detector on the output): {len(kept)}/{len(kept) + len(lost)}")
    print(f"no face found in the output: {sum('d_src' not in r for r in rows)} of {len(rows)} pairs")


def jitter(series: list[np.ndarray]) -> float:
    """Mean second difference of the landmarks (pixels/frame^2) over inter-ocular distance."""
    if len(series) < 3:
        return float("nan")
    p = np.stack([s[:468, :2] for s in series])
    acc = np.linalg.norm(p[2:] - 2 * p[1:-1] + p[:-2], axis=2).mean(1)
    return float(acc.mean() / np.mean([iod(s) for s in series]))


def video_pairs(analyzer, args) -> None:
    print("\nvideo pairs                          frames pass%  d_src  d_tgt  mouth_err eye_err  open  jitter out/target  ms/frame")
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
                rows.append((9.0, 0.0, np.nan, np.nan, np.nan))
                continue
            emb = analyzer.embed(out, found[0])
            raw = analyzer.detect(frame)[0]
            rows.append((distance(emb, faceset.items[0].embedding), distance(emb, analyzer.embed(frame, raw)),
                         expression_error(found[0].landmarks, raw.landmarks, MOUTH),
                         expression_error(found[0].landmarks, raw.landmarks, EYES),
                         abs(mouth_open_error(found[0].landmarks, raw.landmarks))))
            out_lms.append(found[0].landmarks)
            tgt_lms.append(raw.landmarks)
            if index in (10, 40, 70):
                shown.append(side_by_side([frame, out], 288))
        capture.release()
        r = np.array(rows)
        passing = np.mean((r[:, 0] < 0.6) & (r[:, 1] > 0.6)) * 100
        print(f"{source_name[9:22]:>14} -> {clip:18} {len(r):5d} {passing:5.1f}  {np.nanmean(r[:, 0]):5.3f}  {np.nanmean(r[:, 1]):5.3f}"
              f"  {np.nanmean(r[:, 2]):7.3f}   {np.nanmean(r[:, 3]):6.3f} {np.nanmean(r[:, 4]):5.3f}  {jitter(out_lms):6.4f}/{jitter(tgt_lms):6.4f}  {np.median(times):6.1f}")
        if shown:
            save(f"{source_name[4:-4]}_onto_{Path(clip).stem}.png", np.concatenate(shown, axis=0))
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=75)
    parser.add_argument("--colour", default="reinhard")
    parser.add_argument("--blend", default="laplacian")
    parser.add_argument("--no-relight", action="store_true")
    parser.add_argument("--shape", type=float, default=1.0)
    parser.add_argument("--sources", default="", help="comma-separated source stills (default: every still)")
    parser.add_argument("--skip-video", action="store_true")
    parser.add_argument("--skip-images", action="store_true")
    args = parser.parse_args()
    if not MEDIA.is_dir():
        print(f"shared media not found at {MEDIA}: nothing to measure")
        return
    with FaceAnalyzer() as analyzer:
        if not args.skip_images:
            image_pairs(analyzer, args)
        if not args.skip_video:
            video_pairs(analyzer, args)
    print(f"side-by-side PNGs in {OUT}")


if __name__ == "__main__":
    main()
