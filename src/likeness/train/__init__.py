"""likeness.train: training the ``autoencoder`` engine on an identity's faceset and target footage.

Trained weights are the talent's property: checkpoints are bytes in memory, sealed by the vault.
"""

from likeness.train.job import TrainJob, TrainOutcome, train_model
from likeness.train.samples import FaceSamples, samples_from_crops, samples_from_faceset
from likeness.train.target import target_samples
from likeness.swap.autoencoder.device import describe_device, resolve_device
from likeness.train.trainer import PRESET_TRAINING, Progress, RunResult, TrainConfig, Trainer, load_checkpoint

__all__ = [
    "PRESET_TRAINING", "FaceSamples", "Progress", "RunResult", "TrainConfig", "TrainJob", "TrainOutcome", "Trainer",
    "describe_device", "load_checkpoint", "resolve_device", "samples_from_crops", "samples_from_faceset",
    "target_samples", "train_model",
]
