"""The identity firewall's error rates on the shared media: old rule against new rule.

Run: .venv/bin/python benchmarks/firewall.py [--cache /tmp/firewall_facesets.npz]

Every faceset is built the way enrolment builds it (``collect_images``: detection, 80 px floor,
blur and near-duplicate filters). A still becomes a faceset of augmented copies (itself,
mirrored, half size, JPEG q35, a tighter crop): what a talent sends as "a few photos".

- False refusals: every ordered pair (A enrolled, then B) of distinct people: the SFHQ stills,
  the child in the SFHQ grid (its other seven tiles are the stills), the pose/glasses set (``syn_t2i_*``), Eileen Collins and the
  four GRID speakers (first half of each clip). Old rule: refused. New rule: refused, and held
  for review (a held enrolment is delayed, not lost, so it is counted apart).
- False accepts: pairs of facesets of one person from different media: the motion clip against
  its still, each SFHQ still against its tile in the 8-face grid (the captions name them), each
  GRID clip's first half against its second half, and for each still two disjoint sets of
  augmented copies. Accepted (enrolled as a second identity with no review)
  is the failure; both orders are tried.

Left out, with reasons: the class group (faces of about 35 px, under enrolment's 80 px floor),
the OpenMPF clip (faces of 28-72 px, same), Tears of Steel (several actors across cuts with no
labels to say who is who).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from likeness.errors import LikenessError
from likeness.vault.firewall import REFUSE_BELOW, REVIEW_BELOW, clearance, closest

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
STILLS = sorted(p.name for p in MEDIA.glob("syn_SFHQ_pt*.jpg")) + sorted(p.name for p in MEDIA.glob("syn_t2i_*.jpg"))
GRID_VIDEOS = ("grid_bbaf2n.mpg", "grid_brbk7n.mpg", "grid_lbax4n.mpg", "grid_swiz3n.mpg")
EILEEN = "pd_nasa_astronaut_eileen_collins.png"
EIGHT = "syn_SFHQ_sample_2x4_grid_8faces.jpg"
# The grid's tiles, row by row, as their captions name them: seven are the stills above (one
# person from two media), the fourth is a child with no still of its own (one more person).
EIGHT_TILES = ("syn_SFHQ_pt2_00003124.jpg", "syn_SFHQ_pt2_00003040.jpg", "syn_SFHQ_pt1_00002875.jpg", "SFHQ_pt2_00001593 (grid tile, a child)",
               "syn_SFHQ_pt2_00001286.jpg", "syn_SFHQ_pt1_00000161.jpg", "syn_SFHQ_pt2_00001843.jpg", "syn_SFHQ_pt2_00002324.jpg")
MOTION = ("syn_motion_SFHQ_pt1_00000161_5s.mp4", "syn_SFHQ_pt1_00000161.jpg")


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]


def augmented(image: np.ndarray) -> dict[str, np.ndarray]:
    """Copies of one photo that a talent might send: mirrored, smaller, recompressed, cropped."""
    h, w = image.shape[:2]
    return {
        "original": image,
        "mirrored": np.ascontiguousarray(image[:, ::-1]),
        "half size": cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
        "jpeg q35": _jpeg(image, 35),
        "cropped": np.ascontiguousarray(image[h // 10 : h - h // 20, w // 12 : w - w // 12]),
    }


def _frames(path: Path, per_second: float = 2.5) -> list[tuple[float, np.ndarray]]:
    from likeness.media import read_frames

    out, next_time = [], 0.0
    for frame in read_frames(path):
        if frame.time + 1e-6 >= next_time:
            next_time = frame.time + 1.0 / per_second
            out.append((frame.time, frame.image))
    return out


def _embeddings(analyzer, images: list[tuple[str, np.ndarray]], what: str) -> np.ndarray:
    from likeness.vault.enrolment import collect_images

    try:
        collected = collect_images(images, analyzer, what=what)
    except LikenessError as exc:
        print(f"  skipped {what}: {exc}", file=sys.stderr)
        return np.zeros((0, 128), np.float32)
    return np.stack([item.embedding for item in collected.items])


def _eight_faces(analyzer, image: np.ndarray) -> list[np.ndarray]:
    """Each face of the 2x4 grid cut out with a margin, so each is a one-person photo."""
    faces = sorted(analyzer.detect(image), key=lambda f: (round(f.box[1] / 500), f.box[0]))
    h, w = image.shape[:2]
    crops = []
    for face in faces:
        x, y, bw, bh = face.box
        m = 0.45 * max(bw, bh)
        x0, y0 = int(max(0, x - m)), int(max(0, y - m))
        x1, y1 = int(min(w, x + bw + m)), int(min(h, y + bh + m))
        crops.append(np.ascontiguousarray(image[y0:y1, x0:x1]))
    return crops


def build(analyzer) -> tuple[dict[str, np.ndarray], list[tuple[str, np.ndarray, np.ndarray]]]:
    """(distinct people -> faceset embeddings, same-person pairs (label, faceset a, faceset b))."""
    from likeness.media import read_image

    people: dict[str, np.ndarray] = {}
    same: list[tuple[str, np.ndarray, np.ndarray]] = []
    tiles = _eight_faces(analyzer, read_image(MEDIA / EIGHT))
    if len(tiles) != len(EIGHT_TILES):
        raise SystemExit(f"{EIGHT}: found {len(tiles)} faces, expected {len(EIGHT_TILES)}")
    stills = [(n, read_image(MEDIA / n)) for n in STILLS + [EILEEN]] + [(EIGHT_TILES[3], tiles[3])]
    for name, image in stills:
        copies = augmented(image)
        people[name] = _embeddings(analyzer, list(copies.items()), name)
        first = [(k, copies[k]) for k in ("original", "jpeg q35")]
        second = [(k, copies[k]) for k in ("mirrored", "half size", "cropped")]
        same.append((f"{name}: original+jpeg vs mirrored+half+cropped",
                     _embeddings(analyzer, first, name), _embeddings(analyzer, second, name)))
    for name in GRID_VIDEOS:
        frames = _frames(MEDIA / name)
        first = [(f"{t:.2f}", im) for t, im in frames if t < 1.5]
        second = [(f"{t:.2f}", im) for t, im in frames if t >= 1.5]
        a, b = _embeddings(analyzer, first, name), _embeddings(analyzer, second, name)
        people[name] = a
        same.append((f"{name}: 0-1.5 s vs 1.5-3 s", a, b))
    for still, tile in zip(EIGHT_TILES, tiles):
        if still in people:
            same.append((f"{still} vs its tile in {EIGHT} (augmented)", people[still], _embeddings(analyzer, list(augmented(tile).items()), still)))
    clip, still = MOTION
    motion = _embeddings(analyzer, [(f"{t:.2f}", im) for t, im in _frames(MEDIA / clip)], clip)
    same.append((f"{clip} vs {still} (augmented)", motion, people[still]))
    return {k: v for k, v in people.items() if len(v)}, [s for s in same if len(s[1]) and len(s[2])]


def save(path: Path, people: dict[str, np.ndarray], same: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    arrays = {f"p|{k}": v for k, v in people.items()}
    for i, (label, a, b) in enumerate(same):
        arrays[f"s|{i}|a|{label}"] = a
        arrays[f"s|{i}|b|{label}"] = b
    np.savez(path, **arrays)


def load(path: Path) -> tuple[dict[str, np.ndarray], list[tuple[str, np.ndarray, np.ndarray]]]:
    data = np.load(path)
    people = {k[2:]: data[k] for k in data.files if k.startswith("p|")}
    pairs: dict[int, dict[str, object]] = {}
    for k in data.files:
        if k.startswith("s|"):
            _, i, side, label = k.split("|", 3)
            pairs.setdefault(int(i), {"label": label})[side] = data[k]
    same = [(p["label"], p["a"], p["b"]) for _, p in sorted(pairs.items())]
    return people, same  # type: ignore[return-value]


def outcomes(new: np.ndarray, enrolled: np.ndarray, *, refuse_below: float = REFUSE_BELOW, review_below: float = REVIEW_BELOW) -> tuple[bool, str, float]:
    """(old rule refuses, new rule's outcome, new rule's statistic) for one enrolment attempt."""
    old = closest(new, {"x": enrolled}) is not None
    verdict = clearance(new, {"x": enrolled}, refuse_below=refuse_below, review_below=review_below)
    return old, verdict.outcome, verdict.distance if verdict.distance is not None else float("nan")


def rates(people: dict[str, np.ndarray], same: list[tuple[str, np.ndarray, np.ndarray]], **thresholds: float) -> dict[str, object]:
    distinct = [outcomes(people[b], people[a], **thresholds) for a, b in itertools.permutations(people, 2)]
    twins = [outcomes(x, y, **thresholds) for _, a, b in same for x, y in ((a, b), (b, a))]
    return {
        "distinct": len(distinct),
        "old_refused": sum(o for o, _, _ in distinct),
        "new_refused": sum(n == "refuse" for _, n, _ in distinct),
        "new_review": sum(n == "review" for _, n, _ in distinct),
        "same": len(twins),
        "old_accepted": sum(not o for o, _, _ in twins),
        "new_accepted": sum(n == "clear" for _, n, _ in twins),
        "new_review_same": sum(n == "review" for _, n, _ in twins),
        "distinct_stats": sorted(s for _, _, s in distinct),
        "same_stats": sorted(s for _, _, s in twins),
    }


def _pct(n: int, total: int) -> str:
    return f"{n:4d}/{total:<4d} {100.0 * n / max(total, 1):5.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="Keep the facesets' embeddings here and reuse them.")
    parser.add_argument("--sweep", action="store_true", help="Also print the rates for other thresholds.")
    args = parser.parse_args()
    if not MEDIA.is_dir():
        raise SystemExit(f"test media not found at {MEDIA}")
    started = time.perf_counter()
    if args.cache and args.cache.is_file():
        people, same = load(args.cache)
    else:
        from likeness.faces import FaceAnalyzer

        with FaceAnalyzer() as analyzer:
            people, same = build(analyzer)
        if args.cache:
            save(args.cache, people, same)
    r = rates(people, same)
    crops = sorted(len(v) for v in people.values())
    print(f"{len(people)} distinct people (crops per faceset {crops[0]}-{crops[-1]}, median {crops[len(crops) // 2]}), "
          f"{len(same)} same-person pairs; {time.perf_counter() - started:.0f} s")
    print(f"new rule: refuse when the median crop-pair distance < {REFUSE_BELOW} (and most crops agree), review below {REVIEW_BELOW}")
    print()
    print(f"{'':44} {'old rule (centroids < 0.6)':>28} {'new rule':>20}")
    print(f"{'false refusals (distinct people refused)':44} {_pct(r['old_refused'], r['distinct']):>28} {_pct(r['new_refused'], r['distinct']):>20}")
    print(f"{'  held for review (distinct people)':44} {'-':>28} {_pct(r['new_review'], r['distinct']):>20}")
    print(f"{'false accepts (one person enrolled twice)':44} {_pct(r['old_accepted'], r['same']):>28} {_pct(r['new_accepted'], r['same']):>20}")
    print(f"{'  held for review (one person)':44} {'-':>28} {_pct(r['new_review_same'], r['same']):>20}")
    print()
    print("command: .venv/bin/python benchmarks/firewall.py" + (" --sweep" if args.sweep else ""))
    d, s = r["distinct_stats"], r["same_stats"]
    print()
    print(f"median crop-pair distance, distinct people: min {d[0]:.3f}, 1st percentile {d[len(d) // 100]:.3f}, 5th {d[len(d) // 20]:.3f}")
    print(f"median crop-pair distance, one person: max {s[-1]:.3f}, median {s[len(s) // 2]:.3f}")
    if args.sweep:
        print()
        print(f"{'refuse <':>9} {'review <':>9} {'refused':>16} {'reviewed':>16} {'accepted':>16}")
        for refuse in (0.30, 0.35, 0.38, 0.40, 0.42, 0.45):
            for review in (0.50, 0.55, 0.60):
                if review <= refuse:
                    continue
                t = rates(people, same, refuse_below=refuse, review_below=review)
                print(f"{refuse:9.2f} {review:9.2f} {_pct(t['new_refused'], t['distinct']):>16} "
                      f"{_pct(t['new_review'], t['distinct']):>16} {_pct(t['new_accepted'], t['same']):>16}")


if __name__ == "__main__":
    main()
