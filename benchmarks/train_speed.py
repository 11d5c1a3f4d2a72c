"""Training speed of the autoencoder engine: iterations per second per preset and resolution.

    .venv/bin/python benchmarks/train_speed.py                      # CPU, every preset at its own and a few resolutions
    .venv/bin/python benchmarks/train_speed.py --device cuda --seconds 20

Self-contained: the faces are the NASA astronaut (skimage, always present) aligned at each
resolution, augmented per batch exactly as in training (the augmentation runs on the CPU and is
part of the measured time). Prints one line per preset and resolution. Figures taken while other
work loads the CPU are noisy; say so when quoting them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import time

import numpy as np
import torch
from skimage import data

from likeness.faces import FaceAnalyzer, align
from likeness.swap.autoencoder.model import preset_config
from likeness.train import PRESET_TRAINING, TrainConfig, Trainer, describe_device, resolve_device, samples_from_crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (cuda is refused when absent)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per line (after 2 warm-up steps)")
    parser.add_argument("--presets", default="quick,quality")
    parser.add_argument("--resolutions", default="", help="comma list; default: quick 64,96,128 and quality 128,192,256")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    image = data.astronaut()
    with FaceAnalyzer() as analyzer:
        face = analyzer.detect(image)[0]
    defaults = {"quick": (64, 96, 128), "quality": (128, 192, 256)}
    print(f"# device: {describe_device(device)}; torch {torch.__version__}; {args.seconds:g} s per line")
    for preset in args.presets.split(","):
        resolutions = [int(r) for r in args.resolutions.split(",") if r] or defaults[preset]
        for r in resolutions:
            crop = align(image, face, size=r)
            # Mirrored copies give the sampler more than one face; speed does not depend on who it is.
            crops = [(crop.image, crop.landmarks), (crop.image[:, ::-1].copy(), _mirror(crop.landmarks, r))]
            samples = samples_from_crops(crops * 4, r, name="astronaut")
            batch, lr = PRESET_TRAINING[preset]
            trainer = Trainer(TrainConfig(preset_config(preset, r), batch_size=batch, learning_rate=lr), samples, samples, device=device)
            for _ in range(2):
                trainer.step()
            _sync(device)
            start, steps = time.perf_counter(), 0
            while time.perf_counter() - start < args.seconds:
                trainer.step()
                steps += 1
            _sync(device)
            seconds = time.perf_counter() - start
            params = sum(p.numel() for p in trainer.model.parameters()) / 1e6
            print(f"preset={preset} resolution={r} batch={batch} params={params:.1f}M device={device.type} "
                  f"it/s={steps / seconds:.3f} ({steps} it in {seconds:.1f} s; {steps * batch / seconds:.1f} faces/s per side)", flush=True)
            del trainer
            if device.type == "cuda":
                torch.cuda.empty_cache()


def _mirror(landmarks: np.ndarray, size: int) -> np.ndarray:
    out = np.array(landmarks, np.float32)
    out[:, 0] = size - 1 - out[:, 0]
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    from likeness.errors import LikenessError

    try:
        main()
    except LikenessError as exc:
        raise SystemExit(f"{Path(__file__).name}: error: {exc}") from None
