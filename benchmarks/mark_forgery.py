"""Forgery figures: what the secret mark and the fingerprint add to the public mark.

(a) PSNR and embed ms per 1080p frame, public mark alone vs public + secret (one pass); the
    fingerprint's size and ms.
(b) Per attack, on genuine dual-marked renders (skimage pictures, shared stills and video
    frames; crops at several random offsets): public-mark recovery, secret-mark recovery,
    fingerprint match, and "confirmed" (secret mark found or fingerprint matched). Video clips:
    H.264 re-encodes, the copy's frames sampled at other indices than the stored ones.
(c) False confirmations, which must be 0: on unmarked images (generated as in
    benchmarks/watermark.py false_positives) and on forgeries (real photos marked with the
    public key only, with the id of a real render). A confirmation is the secret mark found, or
    the fingerprint matching that of another genuine render (for unmarked images: any genuine
    render not made from the same picture; for forgeries: the render whose id they carry).
(d) Face regions (fingerprint version 2). Genuine "renders" are made as a swap would: real faces
    (the shared SFHQ and SFHQ-T2I stills, skimage's astronaut, 3 faces of the NASA class group, 2
    of the SFHQ grid) get another person's face (nearest pose) pasted in, aligned on the 468-point
    mesh and Poisson-blended (cv2.seamlessClone) inside the face oval; the render is dual-marked
    and fingerprinted with the faces' detector boxes as regions. Per attack: region_matched
    True / None / False of the attacked render against its own fingerprint (should be True), and
    of the attacked SOURCE photo carrying the render's public mark (the forgery the regions are
    for: should never be True), with the global match of each. Unrelated images compared with
    these fingerprints join (c): global false matches must stay 0.

Run: .venv/bin/python benchmarks/mark_forgery.py [--quick] [--fp 2400] [--forged 2000] [--only regions]
Timings are medians on one thread; numbers taken while other work loads the CPU are noisy."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import glob  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from skimage import data  # noqa: E402

from likeness.tagging import PUBLIC_KEY, Watermarker  # noqa: E402
from likeness.tagging import fingerprint as fpmod  # noqa: E402
from watermark import ATTACKS, MEDIA, VIDEOS, crop_half, jpeg, reencode, resize, rotate, timed, video_frames  # noqa: E402

cv2.setNumThreads(1)
SECRET = b"benchmark vault secret watermark key"
GRID_IMAGE = "syn_SFHQ_sample_2x4_grid_8faces.jpg"  # holds several of the SFHQ stills: related to them

EXTRA_ATTACKS = {
    "crop 50%+jpeg q30": lambda im, r: jpeg(crop_half(im, r), 30),
    "rotate 5deg+jpeg q50": lambda im, r: jpeg(rotate(im, -5), 50),
    "resize 0.5x+jpeg q50": lambda im, r: jpeg(resize(im, 0.5), 50),
}


def psnr(a, b):
    return 10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2))


def sources():
    """(name, RGB image) of every still picture: skimage ones, shared stills, one frame of two clips."""
    out = [("astronaut", data.astronaut()), ("coffee", data.coffee()), ("chelsea", data.chelsea()), ("rocket", data.rocket())]
    for p in sorted(glob.glob(str(MEDIA / "*.jpg"))) + sorted(glob.glob(str(MEDIA / "*.png"))):
        name = os.path.basename(p)
        if name == "pd_nasa_astronaut_eileen_collins.png":  # the same picture as skimage's astronaut
            continue
        out.append((name, cv2.imread(p)[:, :, ::-1].copy()))
    for name in VIDEOS[1:3]:
        if (MEDIA / name).exists():
            out.append((name, video_frames(name, 1)[0]))
    return out


DERIVED = {"syn_motion_SFHQ_pt1_00000161_5s.mp4": "syn_SFHQ_pt1_00000161.jpg"}  # the still's face panned, turned, scaled


def related(a, b):
    """Same picture, one made from the other (the SFHQ motion clip), or one holding the other (the
    SFHQ grid): a match there is right, not a false one."""
    a, b = DERIVED.get(a, a), DERIVED.get(b, b)
    if a == b:
        return True
    pair = {a, b}
    return GRID_IMAGE in pair and any(n.startswith("syn_SFHQ_pt") for n in pair)


def timing_table(repeats):
    frame = cv2.resize(video_frames(VIDEOS[1], 1)[0] if (MEDIA / VIDEOS[1]).exists() else data.astronaut(), (1920, 1080))
    public, dual = Watermarker(PUBLIC_KEY), Watermarker(PUBLIC_KEY, secret_key=SECRET)
    n = 10 * repeats
    spent: dict[str, list[float]] = {"public alone": [], "public + secret": []}
    for _ in range(n):  # interleaved, so that load from other work hits both alike
        for label, wm in (("public alone", public), ("public + secret", dual)):
            t = time.perf_counter()
            wm.embed(frame, 5)
            spent[label].append(time.perf_counter() - t)
    rows = [(label, float(np.median(spent[label])) * 1000, psnr(wm.embed(frame, 5), frame)) for label, wm in (("public alone", public), ("public + secret", dual))]
    marked = dual.embed(frame, 5)
    secret = Watermarker(SECRET)
    det_p = timed(lambda: public.detect(marked), n)
    det_s = timed(lambda: secret.detect(marked), n)
    fp_ms = timed(lambda: fpmod.fingerprint([marked]), n)
    fp = fpmod.fingerprint([marked])
    probe = fpmod.probe([jpeg(marked, 60)])
    cmp_ms = timed(lambda: fpmod.compare(fp, probe), n)
    probe_ms = timed(lambda: fpmod.probe([marked]), n)
    print(f"(a) 1080p frame, 1 thread (median of {n}):")
    for label, ms, db in rows:
        print(f"  embed {label:16s} {ms:6.1f} ms   PSNR {db:5.1f} dB")
    print(f"  detect (marked frame): public {det_p:.1f} ms, secret {det_s:.1f} ms")
    print(f"  fingerprint {fp_ms:.1f} ms ({len(fp.to_bytes())} bytes), probe {probe_ms:.1f} ms, compare {cmp_ms:.1f} ms")
    box = [(810, 340, 300, 360)]  # one face-sized region (timing only: what is in it does not matter)
    fp_r_ms = timed(lambda: fpmod.fingerprint([marked], regions=[box]), n)
    fp_r = fpmod.fingerprint([marked], regions=[box])
    cmp_r_ms = timed(lambda: fpmod.compare(fp_r, probe), n)
    print(f"  with one 300x360 face region: fingerprint {fp_r_ms:.1f} ms ({len(fp_r.to_bytes())} bytes), compare {cmp_r_ms:.1f} ms "
          f"(region_matched {fpmod.compare(fp_r, probe).region_matched})")


def genuine_table(srcs, reps):
    rng = np.random.default_rng(0)
    dual, public, secret = Watermarker(PUBLIC_KEY, secret_key=SECRET), Watermarker(PUBLIC_KEY), Watermarker(SECRET)
    ids = [int(rng.integers(1, 2**63)) for _ in srcs]
    renders = [dual.embed(im, rid) for (_, im), rid in zip(srcs, ids)]
    public_only = [public.embed(im, rid) for (_, im), rid in zip(srcs, ids)]
    fps = [fpmod.fingerprint([r]) for r in renders]
    dp = [psnr(r, im) for r, (_, im) in zip(renders, srcs)]
    pp = [psnr(r, im) for r, (_, im) in zip(public_only, srcs)]
    print(f"\n(b) {len(srcs)} genuine renders; PSNR public alone min {min(pp):.1f} / mean {np.mean(pp):.1f} dB, "
          f"public + secret min {min(dp):.1f} / mean {np.mean(dp):.1f} dB; fingerprint {np.mean([len(f.to_bytes()) for f in fps]) / 1024:.1f} KB")
    print(f"  {'attack':22s} {'public':>7s} {'secret':>7s} {'fingerprint':>11s} {'confirmed':>9s} | {'public alone (same attack)':>26s}")
    for name, attack in {**ATTACKS, **EXTRA_ATTACKS}.items():
        p = s = f = c = pa = 0
        n = 0
        for i, rid in enumerate(ids):
            for rep in range(reps if "crop" in name or "noise" in name else 1):
                attacked = attack(renders[i], np.random.default_rng(1000 * rep + i))
                ok_p = public.detect(attacked).payload == rid
                ok_s = secret.detect(attacked).payload == rid
                ok_f = fpmod.compare(fps[i], [attacked]).matched
                pa += public.detect(attack(public_only[i], np.random.default_rng(1000 * rep + i))).payload == rid
                p, s, f, c, n = p + ok_p, s + ok_s, f + ok_f, c + (ok_s or ok_f), n + 1
        print(f"  {name:22s} {p / n:7.0%} {s / n:7.0%} {f / n:11.0%} {c / n:9.0%} | {pa / n:26.0%}", flush=True)
    return ids, fps


def video_table(count):
    public, secret = Watermarker(PUBLIC_KEY), Watermarker(SECRET)
    dual = Watermarker(PUBLIC_KEY, video=True, secret_key=SECRET)
    print(f"\n  video ({count} frames, pooled; fingerprint of 8 sampled frames, checked on other frames of the copy):")
    for name in VIDEOS:
        if not (MEDIA / name).exists():
            continue
        frames = video_frames(name, count)
        marked = dual.embed_frames(frames, 0xC0FFEE)
        fp = fpmod.fingerprint(marked[:: max(1, count // 8)][:8])
        cells = []
        for label, crf, divide in (("crf28", 28, 1), ("half crf23", 23, 2), ("half crf28", 28, 2)):
            copy = reencode(marked, crf, divide)
            ok_p = public.detect_frames(copy).payload == 0xC0FFEE
            ok_s = secret.detect_frames(copy).payload == 0xC0FFEE
            ok_f = fpmod.compare(fp, copy[2::max(1, count // 4)][:4]).matched
            cells.append(f"{label}: public {'ok' if ok_p else '--'}, secret {'ok' if ok_s else '--'}, fp {'ok' if ok_f else '--'}")
        h, w = frames[0].shape[:2]
        print(f"    {name} ({w}x{h}): " + "; ".join(cells), flush=True)


def unmarked_images(srcs, count, seed):
    """(source name, image) pairs as benchmarks/watermark.py false_positives makes them."""
    rng = np.random.default_rng(seed)
    pool = srcs + [("camera", data.camera()[:, :, None].repeat(3, 2)), ("ihc", data.immunohistochemistry()), ("hubble", data.hubble_deep_field())]
    frames = []
    for name in VIDEOS:
        if (MEDIA / name).exists():
            frames += [(name, f) for f in video_frames(name, 60)[::6]]
    total = 0
    while total < count:
        kind = total % 10
        if kind < 6:
            name, src = pool[total % len(pool)]
            h, w = src.shape[:2]
            ch, cw = int(rng.integers(min(96, h), h + 1)), int(rng.integers(min(96, w), w + 1))
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            im = src[y : y + ch, x : x + cw]
            if rng.random() < 0.3:
                im = resize(im, float(rng.uniform(0.5, 1.0)))
            if rng.random() < 0.5:
                im = jpeg(im, int(rng.integers(30, 95)))
        elif kind < 8 and frames:
            name, im = frames[total % len(frames)]
            if rng.random() < 0.5:
                im = jpeg(im, int(rng.integers(30, 95)))
        elif kind < 9:
            name, im = "noise", rng.integers(0, 256, (int(rng.integers(96, 600)), int(rng.integers(96, 600)), 3), dtype=np.uint8)
        else:
            name, im = "flat", np.full((int(rng.integers(96, 600)), int(rng.integers(96, 600)), 3), rng.integers(0, 256, 3), np.uint8)
        yield name, np.ascontiguousarray(im)
        total += 1


def false_confirmations(srcs, ids, fps, n_unmarked, n_forged, made_from=None):
    """``made_from``: per fingerprint, the names of the pictures its render was made from (the
    source photo; for the benchmark's face swaps also the donor, whose face pixels are pasted in)."""
    secret, public = Watermarker(SECRET), Watermarker(PUBLIC_KEY)
    made_from = made_from or [(n,) for n, _ in srcs]
    names = [" + ".join(dict.fromkeys(m)) for m in made_from]

    def kin(i, name):
        return any(related(m, name) for m in made_from[i])

    swap = [bool(fp.images[0].regions) for fp in fps]
    region_true = region_seen = 0
    t = time.perf_counter()
    sec_hits = compares = own = own_matched = 0
    hits = [0, 0]  # plain renders, face-swap renders
    best = (0.0, "")
    for name, im in unmarked_images(srcs, n_unmarked, 1):
        sec_hits += secret.detect(im).found
        probe = fpmod.probe([im])
        for i, fp in enumerate(fps):
            m = fpmod.compare(fp, probe)
            if kin(i, name):  # the unmarked original of that render (or the face pasted into it): the same picture
                own, own_matched = own + 1, own_matched + m.matched
                if swap[i] and m.region_matched is not None and related(made_from[i][0], name):
                    region_seen, region_true = region_seen + 1, region_true + (m.region_matched is True)
                continue
            compares += 1
            hits[swap[i]] += m.matched
            if m.score > best[0]:
                best = (m.score, f"{name} vs render of {names[i]}")
    spent = time.perf_counter() - t
    fp_hits = sum(hits)
    print(f"\n(c) unmarked: {n_unmarked} images/frames; secret mark found in {sec_hits}; fingerprint matched {fp_hits} of {compares} "
          f"comparisons with unrelated genuine renders ({hits[0]} plain, {hits[1]} face-swap renders; highest score {best[0]:.1f}, {best[1]}; "
          f"threshold {fpmod.MATCH_THRESHOLD:.0f}); false confirmations: {sec_hits + fp_hits} ({spent:.0f} s)")
    print(f"    not counted: crops of the pictures a render was made from match its fingerprint in {own_matched} of {own} comparisons; "
          f"the secret mark, absent from them, tells those apart, and so do the face regions where the fingerprint has them "
          f"(face-swap renders vs crops of their source photo): region_matched True in {region_true} of the {region_seen} with the face "
          f"in view", flush=True)
    rng = np.random.default_rng(2)
    t = time.perf_counter()
    sec_hits = fp_hits = pub_found = 0
    best = (0.0, "")
    n = 0
    for name, im in unmarked_images(srcs, 10**9, 3):
        if n == n_forged:
            break
        if name in ("noise", "flat"):
            continue  # forgeries are made on real pictures: photo crops and video frames
        choices = [i for i in range(len(fps)) if not kin(i, name)]
        i = choices[int(rng.integers(len(choices)))]
        forged = public.embed(im, ids[i])  # anyone can: the public key is public
        if rng.random() < 0.5:
            forged = jpeg(forged, int(rng.integers(50, 95)))
        pub_found += public.detect(forged).payload == ids[i]
        sec_hits += secret.detect(forged).found
        m = fpmod.compare(fps[i], [forged])
        fp_hits += m.matched
        if m.score > best[0]:
            best = (m.score, f"{name} claiming render of {names[i]}")
        n += 1
    spent = time.perf_counter() - t
    print(f"    forged: {n} real pictures carrying a genuine render id (public mark read back in {pub_found}); secret mark found in {sec_hits}; "
          f"fingerprint matched the claimed render in {fp_hits} (highest score {best[0]:.1f}, {best[1]}); false confirmations: {sec_hits + fp_hits} ({spent:.0f} s)")


# ---- (d) face regions ----------------------------------------------------------------------------

MESH_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
             172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]  # mediapipe face-mesh silhouette
MULTI_FACE = {"pd_nasa_astronaut_class_group.jpg": (0, 1, 2), GRID_IMAGE: (0, 1)}  # faces swapped, donors: the next ones
REGION_ATTACKS = {
    **ATTACKS,
    **EXTRA_ATTACKS,
    "resize 0.5x+jpeg q30": lambda im, r: jpeg(resize(im, 0.5), 30),
    "rotate -5deg+crop+q50": lambda im, r: jpeg(crop_half(rotate(im, 5), r), 50),
    "blur s1+noise s5+q70": lambda im, r: jpeg(np.clip(cv2.GaussianBlur(im, (0, 0), 1.0) + r.normal(0, 5, im.shape), 0, 255).astype(np.uint8), 70),
}


class Swap:
    """A face-swap render made for the benchmark: source photo, render (marked), boxes, fingerprint, id."""

    def __init__(self, name, donors, source, render, boxes, render_id, fp):
        self.name, self.donors, self.source, self.render, self.boxes, self.render_id, self.fp = name, donors, source, render, boxes, render_id, fp


def paste_face(target, t_landmarks, donor, d_landmarks):
    """Another person's face in place of the target's, as a swap leaves it: the donor aligned on the
    468-point mesh (similarity), Poisson-blended inside the target's face oval (slightly eroded)."""
    m, _ = cv2.estimateAffinePartial2D(d_landmarks[:468, :2].astype(np.float32), t_landmarks[:468, :2].astype(np.float32), method=cv2.LMEDS)
    h, w = target.shape[:2]
    warped = cv2.warpAffine(donor, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(t_landmarks[MESH_OVAL, :2].astype(np.int32)), 255)
    r = max(1, int(0.03 * np.sqrt(np.count_nonzero(mask))))
    mask = cv2.erode(mask, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    ys, xs = np.nonzero(mask)
    centre = (int(xs.min() + xs.max() + 1) // 2, int(ys.min() + ys.max() + 1) // 2)
    out = cv2.seamlessClone(np.ascontiguousarray(warped[:, :, ::-1]), np.ascontiguousarray(target[:, :, ::-1]), mask.copy(), centre, cv2.NORMAL_CLONE)
    return out[:, :, ::-1].copy()


def swap_renders(quick):
    """Genuine face-swap renders of every shared still with a face (and the astronaut), marked and fingerprinted."""
    from likeness.faces import FaceAnalyzer

    stills = [("astronaut", data.astronaut())]
    for p in sorted(glob.glob(str(MEDIA / "*.jpg"))):
        stills.append((os.path.basename(p), cv2.imread(p)[:, :, ::-1].copy()))
    with FaceAnalyzer() as analyzer:
        found = {name: analyzer.detect(im) for name, im in stills}
    single = [(name, im, found[name][0]) for name, im in stills if len(found[name]) == 1]
    dual = Watermarker(PUBLIC_KEY, secret_key=SECRET)
    rng = np.random.default_rng(7)
    made = []
    for name, im, face in single:
        others = [(n, d, f) for n, d, f in single if n != name]
        dname, donor, dface = min(others, key=lambda o: abs(o[2].pose.yaw - face.pose.yaw) + abs(o[2].pose.pitch - face.pose.pitch))
        made.append((name, (dname,), im, paste_face(im, face.landmarks, donor, dface.landmarks), [face.box]))
    for name, chosen in MULTI_FACE.items():
        im = dict(stills).get(name)
        faces = found.get(name, [])
        if im is None or len(faces) < 2 * len(chosen):
            continue
        render = im
        for j in chosen:
            render = paste_face(render, faces[j].landmarks, im, faces[j + len(chosen)].landmarks)
        made.append((name, (name,), im, render, [faces[j].box for j in chosen]))
    if quick:
        made = made[::2]
    out = []
    for name, donors, source, render, boxes in made:
        rid = int(rng.integers(1, 2**63))
        marked = dual.embed(render, rid)
        out.append(Swap(name, donors, source, marked, boxes, rid, fpmod.fingerprint([marked], regions=[boxes])))
    return out


def region_table(swaps, reps):
    public = Watermarker(PUBLIC_KEY)
    faces = sum(len(s.boxes) for s in swaps)
    sizes = [max(b[2], b[3]) for s in swaps for b in s.boxes]
    size = np.mean([len(s.fp.to_bytes()) for s in swaps]) / 1024
    t = time.perf_counter()
    forged = [public.embed(s.source, s.render_id) for s in swaps]  # the source photo claiming the render: anyone can
    print(f"\n(d) face regions: {len(swaps)} face-swap renders ({faces} swapped faces, {min(sizes)}-{max(sizes)} px), fingerprint {size:.1f} KB "
          f"with regions; True from {fpmod.REGION_THRESHOLD:.0%} of the face's corners agreeing ({fpmod.REGION_THRESHOLD_PARTIAL:.0%} when "
          f"it is partly cut off), False under {fpmod.REGION_REJECT:.0%}; None between, or face out of view / under "
          f"{fpmod.REGION_MIN_QUERY_PX} px")
    print(f"  {'attack':22s} | {'genuine render vs own fingerprint':^34s} | {'source photo + render id (forgery)':^34s}")
    print(f"  {'':22s} | {'global':>7s} {'True':>6s} {'None':>6s} {'False':>6s} {'min':>5s} | {'global':>7s} {'True':>6s} {'None':>6s} {'False':>6s} {'max':>5s}")
    total = {"g": [0, 0, 0], "s": [0, 0, 0]}
    worst_g, worst_s = (2.0, ""), (-1.0, "")
    for name, attack in REGION_ATTACKS.items():
        rows = {"g": [0, 0, 0, 0, 2.0], "s": [0, 0, 0, 0, -1.0]}  # global, True, None, False, min/max score
        n = 0
        for i, sw in enumerate(swaps):
            for rep in range(reps if "crop" in name or "noise" in name else 1):
                for key, im in (("g", sw.render), ("s", forged[i])):
                    m = fpmod.compare(sw.fp, [attack(im, np.random.default_rng(1000 * rep + i))])
                    row = rows[key]
                    row[0] += m.matched
                    row[1 + (m.region_matched is None) + 2 * (m.region_matched is False)] += 1
                    if m.region_matched is not None or m.region_score > 0:
                        if key == "g" and m.region_score < row[4]:
                            row[4] = m.region_score
                            worst_g = min(worst_g, (m.region_score, f"{sw.name} after {name}"))
                        if key == "s" and m.region_score > row[4]:
                            row[4] = m.region_score
                            worst_s = max(worst_s, (m.region_score, f"{sw.name} after {name}"))
                n += 1
        for key in "gs":
            for j in range(3):
                total[key][j] += rows[key][1 + j]
        g, s = rows["g"], rows["s"]
        print(f"  {name:22s} | {g[0] / n:7.0%} {g[1] / n:6.0%} {g[2] / n:6.0%} {g[3] / n:6.0%} {min(g[4], 1):5.2f} | "
              f"{s[0] / n:7.0%} {s[1] / n:6.0%} {s[2] / n:6.0%} {s[3] / n:6.0%} {max(s[4], 0):5.2f}", flush=True)
    ng, ns = sum(total["g"]), sum(total["s"])
    print(f"  overall: genuine region True {total['g'][0]}/{ng} ({total['g'][0] / ng:.1%}), None {total['g'][1]}, False {total['g'][2]} "
          f"(lowest {worst_g[0]:.2f}: {worst_g[1]}); forgery region True {total['s'][0]}/{ns} ({total['s'][0] / ns:.1%}), "
          f"None {total['s'][1]}, False {total['s'][2]} (highest {worst_s[0]:.2f}: {worst_s[1]}) ({time.perf_counter() - t:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1-2 minute run: fewer repeats, offsets and false-confirmation images")
    parser.add_argument("--fp", type=int, default=None, help="unmarked images (default 2400, quick 300)")
    parser.add_argument("--forged", type=int, default=None, help="forged images (default 2000, quick 200)")
    parser.add_argument("--only", choices=["timing", "attacks", "video", "false", "regions"], default=None)
    args = parser.parse_args()
    n_fp = args.fp if args.fp is not None else (300 if args.quick else 2400)
    n_forged = args.forged if args.forged is not None else (200 if args.quick else 2000)
    srcs = sources()
    if args.quick:
        srcs = srcs[::2]
    t = time.perf_counter()
    if args.only in (None, "timing"):
        timing_table(1 if args.quick else 3)
    ids = fps = None
    if args.only in (None, "attacks"):
        ids, fps = genuine_table(srcs, 1 if args.quick else 3)
    if args.only in (None, "video"):
        video_table(16 if args.quick else 32)
    swaps = None
    if args.only in (None, "regions", "false"):
        swaps = swap_renders(args.quick)
    if args.only in (None, "regions"):
        region_table(swaps, 1 if args.quick else 3)
    if args.only in (None, "false"):
        if fps is None:
            dual = Watermarker(PUBLIC_KEY, secret_key=SECRET)
            rng = np.random.default_rng(0)
            ids = [int(rng.integers(1, 2**63)) for _ in srcs]
            fps = [fpmod.fingerprint([dual.embed(im, rid)]) for (_, im), rid in zip(srcs, ids)]
        made_from = [(n,) for n, _ in srcs] + [(sw.name, *sw.donors) for sw in swaps]
        false_confirmations(srcs, ids + [sw.render_id for sw in swaps], fps + [sw.fp for sw in swaps], n_fp, n_forged, made_from)
    print(f"\ntotal {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
