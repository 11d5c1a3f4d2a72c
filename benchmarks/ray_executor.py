"""The Ray executor against the local one: wall time, overhead per chunk, and a film on 1-100 nodes.

Run: flock /tmp/likeness-heavy.lock .venv/bin/python benchmarks/ray_executor.py [--seconds 30]

The clip is the GRID talking head grid_bbaf2n.mpg (360x288, 25 fps) looped to ``--seconds``
and encoded as a delivery file often is (x264 veryfast, a keyframe at least every 2 s). Every render is a real one through ``likeness.render.render`` (consent, seal,
record) in this process; each Ray render starts its own local cluster, as ``likeness swap
--executor ray`` does without an address, so its wall time includes that.

Figures:
1. wall time of the local executor, and of Ray with 1 and 2 workers (on this machine's cores);
2. the overhead of a chunk: the same 1-worker render cut into many chunks against one chunk,
   (difference in wall time) / (difference in chunks), and how much of it is the lead-in's work;
   the fixed start (cluster, actors, engines) and the driver's per-frame cost (index, plan, join);
3. the per-frame cost of a worker at 1080p (the clip upscaled), and from all of it a projection
   for a 60-minute 1080p film (24 fps) on 1, 10 and 100 nodes, each node a worker like this one,
   with the chunk length that minimises the time:
       T(N, L) = S + ceil(F / (N L)) * ((L + lead) c + o) + d F
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT.parent / "shared" / "media" / "grid_bbaf2n.mpg"
FILM_FRAMES = 60 * 60 * 24
FILM_FPS = 24


def _studio(folder: Path):
    spec = importlib.util.spec_from_file_location("startup", ROOT / "benchmarks" / "startup.py")
    startup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(startup)  # type: ignore[union-attr]
    env, grant, _ = startup.make_studio(folder)
    return env, grant


def _clip(path: Path, seconds: float, size: tuple[int, int] | None = None) -> int:
    from likeness import media

    frames = [f for f in media.read_frames(GRID)]
    info = media.probe(GRID)
    count = round(seconds * info.fps)
    width, height = size or (info.width, info.height)
    with media.VideoWriter(path, width=width, height=height, fps=info.fps, crf=18, preset="veryfast", gop=round(2 * info.fps),
                           audio_from=GRID if size is None else None) as writer:
        for i in range(count):
            image = frames[i % len(frames)].image
            writer.write(image if size is None else cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), time=i / info.fps)
    return count


def _render(vault, grant: str, target: Path, out: Path, executor=None):
    from likeness.faces import FaceAnalyzer
    from likeness.render import RenderJob, render

    job = RenderJob(target=target, output=out, identity="bench", grant_id=grant, scope="film")
    with FaceAnalyzer() as analyzer:
        start = time.perf_counter()
        record = render(job, vault=vault, analyzer=analyzer, progress=False, executor=executor)
        return time.perf_counter() - start, record.settings


def _call_costs(piece_bytes: int) -> tuple[float, float]:
    """Seconds of one actor call's round trip (a started ChunkWorker) and of sealing + opening one
    encoded piece of ``piece_bytes``: what a chunk costs beyond its frames."""
    import os
    import shutil

    import ray

    from likeness.render.cluster_worker import ChunkWorker
    from likeness.render.sealing import RenderKey

    folder = tempfile.mkdtemp(prefix="likeness-bench-ray-")
    ray.init(address="local", num_cpus=1, _temp_dir=folder, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        actor = ray.remote(ChunkWorker).options(num_cpus=1).remote()
        ray.get(actor.public_key.remote())
        start = time.perf_counter()
        for _ in range(50):
            ray.get(actor.public_key.remote())
        call = (time.perf_counter() - start) / 50
        key, blob = RenderKey.generate(), os.urandom(piece_bytes)
        start = time.perf_counter()
        for _ in range(5):
            key.open(key.seal(blob, "done 0"), "done 0")
        seal = (time.perf_counter() - start) / 5
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    return call, seal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--hd-seconds", type=float, default=2.0, help="length of the 1080p clip the per-frame cost is measured on")
    args = parser.parse_args(argv)
    if not GRID.is_file():
        print(f"skipped: {GRID} not found", file=sys.stderr)
        return 0
    from likeness import media
    from likeness.render.cluster import RayExecutor
    from likeness.settings import from_env
    from likeness.vault import open_vault

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env, grant = _studio(folder)
        vault = open_vault(from_env(env))
        clip, hd = folder / "clip.mp4", folder / "clip-1080p.mp4"
        frames = _clip(clip, args.seconds)
        hd_frames = _clip(hd, args.hd_seconds, (1920, 1080))
        index = media.video_index(clip)
        print(f"clip: {frames} frames of 360x288 at 25 fps ({args.seconds:.0f} s), keyframes at {list(index.keyframes)[:8]}...")
        started = time.perf_counter()
        media.video_index(clip)
        index_s = time.perf_counter() - started

        runs = {}
        runs["local"] = _render(vault, grant, clip, folder / "local.mp4")
        runs["ray, 1 worker"] = _render(vault, grant, clip, folder / "r1.mp4", RayExecutor(workers=1, chunk_seconds=args.seconds))
        runs["ray, 2 workers"] = _render(vault, grant, clip, folder / "r2.mp4", RayExecutor(workers=2))
        runs["ray, 1 worker, 3 s chunks"] = _render(vault, grant, clip, folder / "r1m.mp4", RayExecutor(workers=1, chunk_seconds=3))
        print(f"\n1. wall time, {frames} frames")
        print(f"{'executor':28} {'chunks':>6} {'wall s':>7} {'fps':>6}   cluster phases (s)")
        for name, (wall, settings) in runs.items():
            phases = settings.get("cluster_s", "")
            print(f"{name:28} {settings.get('chunks', 1):>6} {wall:7.1f} {frames / wall:6.1f}   {phases}")

        one, many = runs["ray, 1 worker"], runs["ray, 1 worker, 3 s chunks"]
        lead = one[1]["lead_in_frames"]
        phases = one[1]["cluster_s"]
        c = (phases["analyse"] + phases["swap"]) / (frames + lead * (one[1]["chunks"] - 1))  # a worker's s per frame, this size
        per_chunk = (many[0] - one[0]) / (many[1]["chunks"] - one[1]["chunks"])
        lead_share = lead * c
        start = one[0] - phases["analyse"] - phases["swap"] - phases["join"]  # cluster up and down, actors, engines, consent, seal
        driver_per_frame = (phases["join"] + index_s) / frames
        print("\n2. overheads")
        piece = (folder / "r1.mp4").stat().st_size * 20 // max(1, round(args.seconds))  # a 20 s chunk's encoded size
        call, seal = _call_costs(piece)
        o = 3 * call + 2 * seal  # calls: analyse, swap, the plan's put; sealed: the faces, the piece
        print(f"per chunk, measured: {per_chunk:.2f} s ((3 s chunks - one chunk) / {many[1]['chunks'] - one[1]['chunks']} more chunks; "
              f"the cores are shared with other work, so +-0.5 s); a {lead}-frame lead-in at the full per-frame cost would be "
              f"{lead_share:.2f} s (its frames are analysed and swapped, not marked or encoded); the projection charges it in full")
        print(f"per chunk, its calls: an actor call's round trip {call * 1000:.1f} ms, sealing and opening a 20 s piece "
              f"({piece / 1e6:.1f} MB) {seal * 1000:.1f} ms: o = 3 calls + 2 seals = {o * 1000:.0f} ms")
        print(f"fixed cost S (a local cluster started and stopped, actors, engines opened, consent, seal, record): {start:.1f} s; "
              f"driver per frame (index {index_s * 1000 / frames:.2f} ms + join {phases['join'] * 1000 / frames:.2f} ms): "
              f"{driver_per_frame * 1000:.2f} ms")

        hd_wall, hd_settings = _render(vault, grant, hd, folder / "hd.mp4", RayExecutor(workers=1, chunk_seconds=args.hd_seconds))
        hd_phases = hd_settings["cluster_s"]
        c_hd = (hd_phases["analyse"] + hd_phases["swap"]) / hd_frames
        local_hd, _ = _render(vault, grant, hd, folder / "hd-local.mp4")
        print(f"\n3. per-frame cost at 1080p ({hd_frames} frames): {c_hd * 1000:.0f} ms on one worker "
              f"(local executor: {local_hd * 1000 / hd_frames:.0f} ms per frame with its start-up)")
        vault.close()

    film_lead = round(lead * FILM_FPS / 25)
    d = driver_per_frame  # the index and the join copy packets, not pixels: taken as per frame at 1080p too
    print("\nprojection: a 60-minute 1080p film, F = %d frames (24 fps), a node = one worker like this machine" % FILM_FRAMES)
    print(f"T(N, L) = S + ceil(F / (N L)) * ((L + lead) c + o) + d F, with S = {start:.1f} s, c = {c_hd:.3f} s, "
          f"lead = {film_lead} frames, o = {o:.3f} s, d = {d * 1000:.2f} ms")
    print(f"local executor on one such machine: F x {local_hd / hd_frames:.3f} s = {_hms(FILM_FRAMES * local_hd / hd_frames)}")
    print(f"{'nodes':>5} {'best chunk':>11} {'chunks':>7} {'rounds':>6} {'T':>10}   (T with 20 s chunks)")
    for nodes in (1, 10, 100):
        def total(length: int) -> float:
            return start + math.ceil(FILM_FRAMES / (nodes * length)) * ((length + film_lead) * c_hd + o) + d * FILM_FRAMES

        best = min(range(FILM_FPS, FILM_FRAMES + 1, FILM_FPS), key=total)
        chunks = math.ceil(FILM_FRAMES / best)
        print(f"{nodes:>5} {best / FILM_FPS:9.0f} s {chunks:>7} {math.ceil(chunks / nodes):>6} {_hms(total(best)):>10}   "
              f"({_hms(total(20 * FILM_FPS))})")
    return 0


def _hms(seconds: float) -> str:
    hours, rest = divmod(int(round(seconds)), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


if __name__ == "__main__":
    raise SystemExit(main())
