"""Whole render pipeline fps on a 720p clip (one face by default, three with --face all), next to a plain decode + encode of it.

Run: .venv/bin/python benchmarks/pipeline_speed.py [--seconds 3] [--size 1280x720] [--source CLIP] [--preset veryfast]
     [--work-size PX] [--face largest|0] [--cv-threads N]

The clip is made in a temporary folder by upscaling syn_motion_SFHQ_pt1_00000161_5s.mp4
(synthetic face, MIT) to 1280x720 with PyAV; the identity swapped in is another synthetic SFHQ
face, enrolled in a throw-away vault. The split (detection+tracking, engine, the rest) comes from
timing proxies around the analyzer and the engine. The transcode yardstick uses the same x264
settings as the render (crf 18 and --preset, default the render's default). Figures taken while other processes load the
CPU are noisy: the transcode runs in the same process just before, as the yardstick.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
CLIP = MEDIA / "syn_motion_SFHQ_pt1_00000161_5s.mp4"
IDENTITY = MEDIA / "syn_SFHQ_pt2_00001286.jpg"
AIM_FPS = 25.0


def _transcode_module():
    spec = importlib.util.spec_from_file_location("transcode", ROOT / "benchmarks" / "transcode.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class Timed:
    """Forwards to ``inner``, adding up the seconds spent in the named methods."""

    def __init__(self, inner, *methods: str) -> None:
        self._inner, self.seconds, self.calls, self.last_end = inner, 0.0, 0, 0.0
        self.cpu = 0.0  # CPU seconds of the calling thread inside the calls (its own work, not the other threads')
        for name in methods:
            setattr(self, name, self._wrap(getattr(inner, name)))

    def _wrap(self, method):
        def timed(*args, **kwargs):
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.last_end = time.perf_counter()
                self.seconds += self.last_end - start
                self.cpu += time.thread_time() - cpu
                self.calls += 1

        return timed

    def __getattr__(self, name):
        return getattr(self._inner, name)


def cpu_split(clip: Path, analyzer, faceset, preset: str, work_size: int | None, every_face: bool = False) -> dict[str, float]:
    """Process CPU seconds of the pipeline's parts run alone over ``clip``: decoding, decoding with
    detection and tracking, decoding with all the face work (no watermark, no encoder), and the
    plain transcode, so that face work and encoder can be told apart."""
    from likeness import media, swap
    from likeness.faces import Tracker
    from likeness.faces.tracking import analyze_video
    from likeness.render.cores import without_blas_threads

    transcode = _transcode_module()

    def cpu(run) -> float:
        start = time.process_time()
        run()
        return time.process_time() - start

    def track() -> None:
        for _ in analyze_video(media.read_frames(clip), analyzer, Tracker()):
            pass

    def face() -> None:
        engine = swap.make_engine("retrieval", **({"work_size": work_size} if work_size else {}))
        engine.prepare(faceset)
        smoother = swap.TemporalSmoother()
        for frame, faces in analyze_video(media.read_frames(clip), analyzer, Tracker()):
            image = frame.image
            for face in faces if every_face else faces[:1]:
                image = swap.composite(image, engine.swap(image, face), smoother=smoother, track=face.track)
        engine.close()

    # As in the render: BLAS single-threaded (likeness.render.cores).
    return {"decode": cpu(lambda: sum(1 for _ in media.read_frames(clip))), "track": cpu(without_blas_threads(track)),
            "face": cpu(without_blas_threads(face)),
            "transcode": cpu(lambda: transcode.transcode_fps(clip, preset=preset))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the clip")
    parser.add_argument("--size", default="1280x720", help="WxH the source clip is upscaled to (default 1280x720)")
    parser.add_argument("--source", type=Path, default=CLIP, help="clip to upscale (default: the SFHQ motion clip)")
    parser.add_argument("--preset", default=None, help="x264 preset of the render and the transcode (default: the render's)")
    parser.add_argument("--face", default="largest",
                        help="render --face: largest (analysis streams with the swap), 0 (whole target analysed first) or all"
                             " (every face, e.g. with --source ccby_openmpf_video_01_multiface.mp4: three faces)")
    parser.add_argument("--cv-threads", type=int, default=None, help="cv2.setNumThreads for the run (default: OpenCV's)")
    parser.add_argument("--work-size", type=int, default=None, help="render option work_size (default: the engine's)")
    args = parser.parse_args(argv)
    source = args.source
    if not (source.is_file() and IDENTITY.is_file()):
        print(f"skipped: {source} or {IDENTITY} not found", file=sys.stderr)
        return 0

    from likeness import consent, media, swap
    from likeness.faces import FaceAnalyzer
    from likeness.render import DEFAULT_OPTIONS, RenderJob, render
    from likeness.settings import Settings
    from likeness.vault import FacesetItem, init_vault

    transcode = _transcode_module()
    if args.cv_threads is not None:
        import cv2

        cv2.setNumThreads(args.cv_threads)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        width, height = (int(v) for v in args.size.lower().split("x"))
        clip = transcode.make_clip(source, folder / "clip.mp4", width, height, args.seconds)
        frames = media.probe(clip).frame_count
        preset = args.preset or DEFAULT_OPTIONS["preset"]
        cpu = time.process_time()
        plain = transcode.transcode_fps(clip, preset=preset)
        plain_cpu = time.process_time() - cpu

        settings = Settings(home=folder / "home", database_url=f"sqlite:///{folder / 'home' / 'vault.db'}", passphrase="bench", talent_passphrase="bench")
        settings.home.mkdir()
        vault = init_vault(settings, studio="bench-studio", scrypt_n=2**10)
        with FaceAnalyzer() as analyzer:
            faceset = swap.make_faceset([media.read_image(IDENTITY)], analyzer, identity="bench")
            vault.enrol("bench", [FacesetItem(i.image, i.landmarks, i.pose, i.embedding, i.quality) for i in faceset.items], talent_passphrase="bench")
            grant = consent.create_grant(vault, "bench", grantee="bench-studio", scopes=["film"], expires="2035-01-01", talent_passphrase="bench")
            # Benchmark-only: time the stages the pipeline reaches through module attributes.
            import likeness.swap as swap_module
            import likeness.tagging as tagging_module

            timed_composite = Timed(swap_module, "composite")
            timed_tagging = Timed(tagging_module, "mark_frame", "seal")
            swap_module.composite, tagging_module.mark_frame = timed_composite.composite, timed_tagging.mark_frame
            tagging_module.seal = timed_tagging.seal
            timed_analyzer = Timed(analyzer, "detect", "embed", "mesh_at")
            options = {"preset": preset, **({"work_size": args.work_size} if args.work_size else {})}
            engine_options = {"work_size": args.work_size} if args.work_size else {}
            timed_engine = Timed(swap.make_engine("retrieval", **engine_options), "swap")
            job = RenderJob(target=clip, output=folder / "out.mp4", identity="bench", grant_id=grant.id, scope="film", options=options,
                            face=args.face)
            start, cpu = time.perf_counter(), time.process_time()
            record = render(job, vault=vault, analyzer=timed_analyzer, engine=timed_engine, progress=False)
            total, total_cpu = time.perf_counter() - start, time.process_time() - cpu
            swap_module.composite, tagging_module.mark_frame = timed_composite._inner.composite, timed_tagging._inner.mark_frame
            tagging_module.seal = timed_tagging._inner.seal
            split = cpu_split(clip, analyzer, faceset, preset, args.work_size, every_face=args.face == "all")

    fps = frames / total
    ms = lambda s: 1000 * s / frames  # noqa: E731
    import resource

    print(f"clip: {frames} frames, {args.size} (upscaled {source.name}), --face {args.face}")
    print(f"plain decode+encode (read_frames -> VideoWriter, libx264 crf 18 preset {preset}): {plain:.1f} fps")
    print(f"whole pipeline (consent, decode, detect+track, retrieval swap, composite, watermark, encode, seal, record): "
          f"{fps:.1f} fps = {fps / plain:.2f} x transcode; aim {AIM_FPS:.0f} fps and >= 0.5 x")
    print(f"  CPU time per frame (all threads; steadier than wall time under load): transcode {ms(plain_cpu):.1f} ms,"
          f" pipeline {ms(total_cpu):.1f} ms = {2000 / ms(total_cpu):.1f} fps if 2 cores were all ours")
    analysis = timed_analyzer.last_end - start
    print(f"  --face {args.face}: wall per frame until the last detection {ms(analysis):.1f} ms, after it (the rest of the"
          f" swap, seal, record) {ms(total - analysis):.1f} ms")
    print(f"  per frame: {ms(total):.1f} ms wall; busy time per stage (the engine runs on a worker thread, so they overlap):"
          f" detect+track {ms(timed_analyzer.seconds):.1f}, engine.swap {ms(timed_engine.seconds):.1f},"
          f" composite {ms(timed_composite.seconds):.1f}, watermark+label+seal {ms(timed_tagging.seconds):.1f} ms")
    face, decode = split["face"] - split["decode"], split["transcode"] - split["decode"]
    print(f"  CPU per frame, process-wide, in passes of their own: decode {ms(split['decode']):.1f} ms; face work"
          f" (detect+track, engine, composite) {ms(face):.1f} ms (detect+track {ms(split['track'] - split['decode']):.1f});"
          f" encoder {ms(decode):.1f} ms: face work = {face / decode:.2f} x the encoder; aim <= 1 x")
    print(f"  failed frames {record.settings['failed_frames']}, face upscale {record.settings.get('face_upscale')}"
          f" (soft-face frames {record.settings.get('soft_face_frames')}), work_size {args.work_size or 'engine default'}")
    print(f"  peak resident set of the whole process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
