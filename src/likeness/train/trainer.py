"""The training loop: a caller-owned Trainer holding the model, optimiser and random state.

Checkpoints are bytes made in memory (``torch.save`` into ``io.BytesIO``) so trained weights,
which are the talent's property, only ever reach disk encrypted by the vault.
"""

from __future__ import annotations

import io
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from likeness.errors import InputError, VaultError
from likeness.swap.autoencoder.model import DFModel, ModelConfig
from likeness.train.augment import Batch, make_batch
from likeness.train.loss import face_loss
from likeness.train.samples import FaceSamples


# Training settings per preset: (batch size, Adam learning rate). quick: 3e-4 beat 1e-4 in two 5-min GRID
# runs (dlib to source 0.737 vs 0.765, sharper preview); quality keeps SAEHD's 5e-5 for long GPU runs.
PRESET_TRAINING: dict[str, tuple[int, float]] = {"quick": (8, 3e-4), "quality": (16, 5e-5)}


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig
    batch_size: int = 8
    learning_rate: float = 1e-4
    seed: int = 0


@dataclass(frozen=True)
class Progress:
    """One report of the loop: what the progress bar shows."""

    iteration: int
    src_loss: float
    dst_loss: float
    its_per_second: float
    elapsed: float
    remaining: float | None  # seconds, when the stop condition allows a guess


@dataclass(frozen=True)
class RunResult:
    iterations: int  # total, including resumed ones
    steps: int  # made in this run
    losses: tuple[tuple[int, float, float], ...]  # (iteration, src, dst), sampled
    interrupted: bool
    seconds: float


def _to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(array))
    t = t.permute(0, 3, 1, 2) if t.ndim == 4 else t[:, None]
    return t.to(device, non_blocking=True)


class Trainer:
    """Trains one DF model on a source (talent) and a target set of samples."""

    def __init__(
        self, config: TrainConfig, source: FaceSamples, target: FaceSamples, *, device: torch.device, state: dict | None = None
    ) -> None:
        for name, s in (("source", source), ("target", target)):
            if s.resolution != config.model.resolution:
                raise InputError(f"{name} samples are {s.resolution}px, the model is {config.model.resolution}px")
        if device.type == "cpu":
            # Denormals make CPU convolutions up to 10x slower once weights get small.
            torch.set_flush_denormal(True)
        self.config = config
        self.source, self.target = source, target
        self.device = device
        torch.manual_seed(config.seed)
        self.model = DFModel(config.model).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate, betas=(0.5, 0.999))
        self.iteration = 0
        self.losses: list[tuple[int, float, float]] = []
        self.rng = np.random.default_rng(config.seed)
        self.amp_dtype = None
        if device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        if state is not None:
            self._load(state)

    def _load(self, state: dict) -> None:
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise InputError(f"cannot resume: the stored model does not match this configuration ({exc})") from None
        self.iteration = int(state.get("iteration", 0))
        self.losses = [tuple(x) for x in state.get("losses", [])]
        self.rng = np.random.default_rng([self.config.seed, self.iteration])

    def _batch(self, samples: FaceSamples, colour_from: FaceSamples | None) -> list[torch.Tensor]:
        b: Batch = make_batch(self.rng, samples, self.config.batch_size, colour_from=colour_from)
        return [_to_tensor(a, self.device) for a in (b.warped, b.target, b.mask, b.eyes_mouth)]

    def step(self) -> tuple[float, float]:
        """One Adam step on a source batch and a target batch; returns their losses."""
        sw, st, sm, se = self._batch(self.source, self.target)
        dw, dt, dm, de = self._batch(self.target, None)
        self.model.train()
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            (s_rgb, s_mask), (d_rgb, d_mask) = self.model(sw, dw)
        src_loss = face_loss(s_rgb, s_mask, st, sm, se)
        dst_loss = face_loss(d_rgb, d_mask, dt, dm, de)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(src_loss + dst_loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.iteration += 1
        s, d = float(src_loss.detach()), float(dst_loss.detach())
        if not np.isfinite(s + d):
            raise InputError(f"training diverged at iteration {self.iteration} (loss is not finite); lower the learning rate")
        return s, d

    @torch.no_grad()
    def preview(self, count: int = 4) -> np.ndarray:
        """Grid image: rows of (source, source rebuilt, target, target rebuilt, target as source)."""
        self.model.eval()
        n = min(count, len(self.source), len(self.target))
        si = np.linspace(0, len(self.source) - 1, n).astype(int)
        ti = np.linspace(0, len(self.target) - 1, n).astype(int)
        src = _to_tensor(self.source.images[si].astype(np.float32) / 255.0, self.device)
        dst = _to_tensor(self.target.images[ti].astype(np.float32) / 255.0, self.device)
        (s_rgb, _), (d_rgb, _) = self.model(src, dst)
        swapped, _, _ = self.model.swap(dst)
        cols = [self.source.images[si], _to_uint8(s_rgb), self.target.images[ti], _to_uint8(d_rgb), _to_uint8(swapped)]
        rows = [np.concatenate([c[i] for c in cols], axis=1) for i in range(n)]
        return np.concatenate(rows, axis=0)

    def checkpoint(self) -> bytes:
        """The whole training state as bytes, made in memory only."""
        buf = io.BytesIO()
        torch.save(
            {
                "config": self.config.model.to_dict(),
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "iteration": self.iteration,
                "losses": [list(x) for x in self.losses[-2000:]],
                "batch_size": self.config.batch_size,
                "learning_rate": self.config.learning_rate,
                "seed": self.config.seed,
            },
            buf,
        )
        return buf.getvalue()

    def run(
        self,
        *,
        iterations: int | None = None,
        seconds: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        report_every: int = 1,
        on_preview: Callable[[np.ndarray], None] | None = None,
        preview_every: int = 0,
    ) -> RunResult:
        """Train until ``iterations`` more steps or ``seconds`` pass; Ctrl-C stops cleanly after the step."""
        if iterations is None and seconds is None:
            raise InputError("give --iterations N or --minutes M")
        start = time.monotonic()
        steps = 0
        with _StopOnCtrlC() as stop:
            while not stop.requested and (iterations is None or steps < iterations) and (
                seconds is None or time.monotonic() - start < seconds
            ):
                s, d = self.step()
                steps += 1
                if self.iteration % 10 == 0 or steps == 1:
                    self.losses.append((self.iteration, s, d))
                if on_progress and (steps % report_every == 0 or steps == 1):
                    elapsed = time.monotonic() - start
                    rate = steps / max(elapsed, 1e-9)
                    left = [x for x in ((iterations - steps) / rate if iterations else None,
                                        seconds - elapsed if seconds else None) if x is not None]  # fmt: skip
                    on_progress(Progress(self.iteration, s, d, rate, elapsed, max(0.0, min(left)) if left else None))
                if on_preview and preview_every and self.iteration % preview_every == 0:
                    on_preview(self.preview())
                last = (self.iteration, s, d)
        if steps and self.losses[-1][0] != self.iteration:
            self.losses.append(last)
        interrupted = stop.requested
        if on_preview and preview_every:
            on_preview(self.preview())
        return RunResult(self.iteration, steps, tuple(self.losses), interrupted, time.monotonic() - start)


class _StopOnCtrlC:
    """First Ctrl-C asks the loop to stop after the current step (so the weights stay whole and get
    stored); a second one interrupts at once. Only the main thread can own SIGINT."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:  # noqa: ANN001
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "_StopOnCtrlC":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    return (t.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def load_checkpoint(payload: bytes) -> dict:
    """A checkpoint dict from vault bytes; ``weights_only`` so a stored blob can never run code."""
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a damaged blob
        raise VaultError(f"stored model cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise VaultError("stored model is not a likeness autoencoder checkpoint")
    return state


def config_from_state(state: dict) -> ModelConfig:
    return ModelConfig(**{k: int(v) for k, v in state["config"].items()})
