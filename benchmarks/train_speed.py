"""Training speed of the autoencoder engine: iterations per second per preset and resolution.

    .venv/bin/python benchmarks/train_speed.py                      # CPU, every preset at its own and a few resolutions
    .venv/bin/python benchmarks/train_speed.py --device cuda --seconds 20
    .venv/bin/python benchmarks/train_speed.py --save-crops crops.npz      # once, here
    python3 benchmarks/train_speed.py --bare --crops crops.npz --device cuda   # a GPU box with torch only

Self-contained: the faces are the NASA astronaut (skimage, always present) aligned at each
resolution, augmented per batch exactly as in training (the augmentation runs on the CPU and is
part of the measured time). Prints one line per preset and resolution. Figures taken while other
work loads the CPU are noisy; say so when quoting them.
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"


def _bare_packages() -> None:
    """Import the training modules without their packages' __init__ (no mediapipe, dlib, PyAV, SQL).

    For a lent GPU machine that has PyTorch, NumPy and OpenCV but not likeness's other dependencies;
    the training step itself uses none of them.
    """
    sys.path.insert(0, str(SRC))
    for pkg in ("likeness.faces", "likeness.swap", "likeness.swap.autoencoder", "likeness.train"):
        module = types.ModuleType(pkg)
        module.__path__ = [str(SRC / pkg.replace(".", "/"))]
        sys.modules[pkg] = module


if "--bare" in sys.argv:
    _bare_packages()

import torch  # noqa: E402

from likeness.swap.autoencoder.device import describe_device, resolve_device  # noqa: E402
from likeness.swap.autoencoder.model import preset_config  # noqa: E402
from likeness.train.samples import samples_from_crops  # noqa: E402
from likeness.train.trainer import PRESET_TRAINING, TrainConfig, Trainer  # noqa: E402

DEFAULT_RESOLUTIONS = {"quick": (64, 96, 128), "quality": (128, 192, 256)}


def aligned_astronaut(resolutions: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The astronaut's face aligned at each resolution: (crop, landmarks in crop pixels)."""
    from skimage import data

    from likeness.faces import FaceAnalyzer, align

    image = data.astronaut()
    with FaceAnalyzer() as analyzer:
        face = analyzer.detect(image)[0]
    return {r: (a.image, a.landmarks) for r in resolutions for a in [align(image, face, size=r)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (cuda is refused when absent)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per line (after 2 warm-up steps)")
    parser.add_argument("--presets", default="quick,quality")
    parser.add_argument("--resolutions", default="", help="comma list; default: quick 64,96,128 and quality 128,192,256")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--crops", type=Path, help="read the aligned faces from this .npz (see --save-crops)")
    parser.add_argument("--save-crops", type=Path, help="write the aligned faces of every resolution to this .npz and stop")
    parser.add_argument("--bare", action="store_true", help="import only the training modules (GPU box without the full stack)")
    args = parser.parse_args()
    if args.save_crops:
        every = sorted({r for rs in DEFAULT_RESOLUTIONS.values() for r in rs})
        crops = aligned_astronaut(every)
        np.savez_compressed(args.save_crops, **{f"image{r}": c[0] for r, c in crops.items()},
                            **{f"landmarks{r}": c[1] for r, c in crops.items()})
        print(f"wrote {args.save_crops} ({', '.join(map(str, every))} px)")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    defaults = DEFAULT_RESOLUTIONS
    wanted = sorted({int(r) for r in args.resolutions.split(",") if r} or {r for p in args.presets.split(",") for r in defaults[p]})
    if args.crops:
        stored = np.load(args.crops)
        aligned = {r: (stored[f"image{r}"], stored[f"landmarks{r}"]) for r in wanted}
    else:
        aligned = aligned_astronaut(wanted)
    print(f"# device: {describe_device(device)}; torch {torch.__version__}; {args.seconds:g} s per line")
    for preset in args.presets.split(","):
        resolutions = [int(r) for r in args.resolutions.split(",") if r] or defaults[preset]
        for r in resolutions:
            image, landmarks = aligned[r]
            # Mirrored copies give the sampler more than one face; speed does not depend on who it is.
            crops = [(image, landmarks), (image[:, ::-1].copy(), _mirror(landmarks, r))]
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
