"""Quality of the ``quick`` preset: one GRID speaker trained onto another, judged by dlib identity distance.

    .venv/bin/python benchmarks/train_quality.py                 # 30 minutes on the CPU (the issue's figure)
    .venv/bin/python benchmarks/train_quality.py --minutes 4     # a short run; label its figure as such

The source faceset is built in memory from frames of ``--source`` (the way an enrolled identity's
faceset looks: 512 px aligned crops), the target faces from ``--target``. After training, every
few target frames are swapped with the trained engine and composited with the swap package's
compositing; printed: the mean dlib distance of the swapped faces to the source identity (lower is
more like the source; < 0.6 is "same person" for dlib) and to the target identity, next to the
distance between the two speakers' own faces. The preview grid (source | rebuilt | target |
rebuilt | swapped) and a strip of swapped frames go to ``bench-output/`` (test media only).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from likeness import media, swap
from likeness.faces import FaceAnalyzer, distance
from likeness.swap.autoencoder import make_autoencoder_engine
from likeness.train import PRESET_TRAINING, TrainConfig, Trainer, describe_device, resolve_device, samples_from_faceset, target_samples
from likeness.swap.autoencoder.model import preset_config

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--source", default=str(MEDIA / "grid_bbaf2n.mpg"))
    parser.add_argument("--target", default=str(MEDIA / "grid_brbk7n.mpg"))
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--resolution", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the preset's")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    parser.add_argument("--out", default="bench-output")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = preset_config(args.preset, args.resolution)
    batch, lr = PRESET_TRAINING[args.preset]
    batch, lr = args.batch_size or batch, args.learning_rate or lr
    with FaceAnalyzer() as analyzer:
        source_frames = [f.image for f in media.read_frames(args.source)]
        faceset = swap.make_faceset(source_frames[::2], analyzer, identity="source")
        source = samples_from_faceset(faceset, config.resolution, name="source")
        target = target_samples(args.target, analyzer, config.resolution)
        print(f"# {args.preset} {config.resolution}px on {describe_device(device)}: {len(source)} source faces "
              f"({Path(args.source).name}), {len(target)} target faces ({Path(args.target).name}), {args.minutes:g} min, batch {batch}, lr {lr:g}", flush=True)
        trainer = Trainer(TrainConfig(config, batch_size=batch, learning_rate=lr, seed=args.seed), source, target, device=device)
        last = [time.monotonic()]

        def report(p) -> None:  # noqa: ANN001
            if time.monotonic() - last[0] > 30:
                last[0] = time.monotonic()
                print(f"  it {p.iteration} src {p.src_loss:.3f} dst {p.dst_loss:.3f} {p.its_per_second:.2f} it/s", flush=True)

        result = trainer.run(seconds=args.minutes * 60, on_progress=report)
        grid = trainer.preview(count=4)
        grid = cv2.resize(grid, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)
        media.write_image(out / "train_quality_preview.png", grid)

        engine = make_autoencoder_engine(payload=trainer.checkpoint(), meta={}, device=args.device)
        engine.prepare(faceset)
        source_embeddings = np.stack([i.embedding for i in faceset.items])
        source_identity = source_embeddings.mean(0)
        target_frames = [f.image for f in media.read_frames(args.target)][::5]
        to_source, to_target, own, strip = [], [], [], []
        smoother = swap.TemporalSmoother()
        for frame in target_frames:
            faces = analyzer.detect(frame)
            if not faces:
                continue
            original = analyzer.embed(frame, faces[0])
            swapped = swap.composite(frame, engine.swap(frame, faces[0]), smoother=smoother, track=0)
            found = analyzer.detect(swapped)
            if not found:
                continue
            e = analyzer.embed(swapped, found[0])
            to_source.append(distance(e, source_identity))
            to_target.append(distance(e, original))
            own.append(distance(original, source_identity))
            if len(strip) < 4:
                strip.append(np.concatenate([frame, swapped], axis=0))
        if strip:
            media.write_image(out / "train_quality_frames.png", np.concatenate(strip, axis=1))
    print(f"iterations={result.iterations} in {result.seconds / 60:.1f} min ({result.iterations / result.seconds:.2f} it/s), "
          f"final loss src {result.losses[-1][1]:.3f} dst {result.losses[-1][2]:.3f}")
    print(f"dlib distance swapped->source {np.mean(to_source):.3f}  swapped->target {np.mean(to_target):.3f}  "
          f"target->source (no swap) {np.mean(own):.3f}  over {len(to_source)} frames")
    print(f"preview: {out / 'train_quality_preview.png'}  frames: {out / 'train_quality_frames.png'}")


if __name__ == "__main__":
    from likeness.errors import LikenessError

    try:
        main()
    except LikenessError as exc:
        raise SystemExit(f"{Path(__file__).name}: error: {exc}") from None
