"""``likeness train``: consent first, then faceset + target faces, training, and the model into the vault.

Training is a use of the likeness like a render: it needs a grant that covers it, takes one use
from the grant's quota and is audited. The faceset is decrypted in memory; the checkpoint is made
in memory and sealed by the vault with the identity's data key, so deleting the identity
destroys its models too.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from likeness import consent
from likeness.errors import ConsentError, InputError
from likeness.swap.autoencoder.device import describe_device, resolve_device
from likeness.swap.autoencoder.model import PRESETS, ModelConfig, check_resolution, preset_config
from likeness.train.samples import samples_from_faceset
from likeness.train.target import ALIGN_PADDING, target_samples
from likeness.train.trainer import PRESET_TRAINING, Progress, RunResult, TrainConfig, Trainer, config_from_state, load_checkpoint

@dataclass(frozen=True)
class TrainJob:
    """What ``likeness train`` is asked to do; validated before any likeness data is touched."""

    identity: str
    grant_id: str
    target: Path
    preset: str = "quick"
    resolution: int | None = None
    iterations: int | None = None
    minutes: float | None = None
    device: str = "auto"
    resume: str | None = None
    seed: int = 0
    scope: str | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_target_frames: int = 300
    model_config: ModelConfig | None = None  # overrides the preset's sizes (tests, experiments)

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", Path(self.target))
        if self.preset not in PRESETS:
            raise InputError(f"--preset {self.preset!r}: choose one of {', '.join(PRESETS)}")
        if (self.iterations is None) == (self.minutes is None):
            raise InputError("give exactly one of --iterations N or --minutes M")
        if self.iterations is not None and self.iterations < 1:
            raise InputError(f"--iterations {self.iterations}: must be at least 1")
        if self.minutes is not None and self.minutes <= 0:
            raise InputError(f"--minutes {self.minutes}: must be more than 0")
        if self.resolution is not None and self.model_config is None:
            check_resolution(self.resolution, low=64)
        if not self.target.exists():
            raise InputError(f"{self.target}: target not found")

    def config(self) -> TrainConfig:
        batch, lr = PRESET_TRAINING[self.preset]
        model = self.model_config or preset_config(self.preset, self.resolution)
        return TrainConfig(model, batch_size=self.batch_size or batch, learning_rate=self.learning_rate or lr, seed=self.seed)


@dataclass(frozen=True)
class TrainOutcome:
    model_id: str
    result: RunResult
    device: str
    meta: dict


def train_model(
    job: TrainJob,
    *,
    vault,
    analyzer,
    on_start: Callable[[str, int, int], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_preview: Callable[[np.ndarray], None] | None = None,
    preview_every: int = 0,
) -> TrainOutcome:
    """Train (or resume) the identity's model for ``job`` and store it; returns the new model id.

    ``on_start(device, source_faces, target_faces)`` is called once the data is ready; Ctrl-C
    during training stops after the current step and the model is still stored.
    """
    device = resolve_device(job.device)  # before consent: a refused device should not use a grant
    config = job.config()
    state = None
    preset = job.preset
    if job.resume is not None:
        payload, resumed_meta = vault.get_model(job.resume)
        if resumed_meta.get("identity") not in (None, job.identity):
            raise InputError(f"--resume {job.resume}: that model was trained for {resumed_meta.get('identity')!r}, not {job.identity!r}")
        state = load_checkpoint(payload)
        del payload
        stored = config_from_state(state)
        if job.resolution is not None and job.resolution != stored.resolution:
            raise InputError(f"--resume {job.resume}: the model is {stored.resolution}px, not {job.resolution}px")
        config = replace(config, model=stored)
        preset = resumed_meta.get("preset", preset)  # the sizes come from the stored model, so does its name

    request = consent.Request(identity=job.identity, grant_id=job.grant_id, scope=job.scope, use="train", studio=vault.studio)
    decision = consent.authorize(vault, request)
    if not decision.allowed:
        reasons = "; ".join(decision.reasons) or "no reason given"
        raise ConsentError(f"training on {job.identity!r} under grant {job.grant_id} refused: {reasons}")

    r = config.model.resolution
    source = samples_from_faceset(vault.faceset(job.identity), r, name=job.identity)  # decrypted in memory only
    target = target_samples(job.target, analyzer, r, max_frames=job.max_target_frames)
    trainer = Trainer(config, source, target, device=device, state=state)
    where = describe_device(device)
    # Training is one use of the grant, taken once the run is set up (a bad target used nothing).
    consent.take(vault, decision, use="train", data={"device": where, "resume": job.resume})
    if on_start:
        on_start(where, len(source), len(target))
    vault.audit("train.start", {"identity": job.identity, "grant": job.grant_id, "device": where, "resume": job.resume,
                                "resolution": r, "preset": preset})
    result = trainer.run(
        iterations=job.iterations,
        seconds=None if job.minutes is None else job.minutes * 60,
        on_progress=on_progress,
        on_preview=on_preview,
        preview_every=preview_every,
    )
    payload = trainer.checkpoint()
    last = result.losses[-1] if result.losses else (trainer.iteration, float("nan"), float("nan"))
    step = max(1, len(result.losses) // 50)
    meta = {
        "kind": "autoencoder-df",
        "identity": job.identity,
        "grant_id": job.grant_id,
        "scope": job.scope,
        "preset": preset,
        "resolution": r,
        "config": config.model.to_dict(),
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "padding": ALIGN_PADDING,
        "iterations": result.iterations,
        "steps_this_run": result.steps,
        "seconds_this_run": round(result.seconds, 1),
        "interrupted": result.interrupted,
        "losses": {"iteration": last[0], "src": round(last[1], 5), "dst": round(last[2], 5)},
        "loss_history": [[i, round(s, 5), round(d, 5)] for i, s, d in result.losses[::step]],
        "device": where,
        "target": str(job.target),
        "source_faces": len(source),
        "target_faces": len(target),
        "resumed_from": job.resume,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    model_id = vault.put_model(job.identity, payload, meta)
    del payload
    vault.audit("train.finish", {"identity": job.identity, "grant": job.grant_id, "model": model_id,
                                 "iterations": result.iterations, "interrupted": result.interrupted, "device": where})
    return TrainOutcome(model_id, result, where, meta)



