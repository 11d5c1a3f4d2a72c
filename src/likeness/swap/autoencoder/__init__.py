"""likeness.swap.autoencoder: the DF autoencoder model and the ``autoencoder`` swap engine."""

from likeness.swap.autoencoder.engine import AutoencoderEngine, load_model, make_autoencoder_engine
from likeness.swap.autoencoder.masks import eyes_mouth_mask, face_mask
from likeness.swap.autoencoder.model import PRESETS, TINY, DFModel, ModelConfig, check_resolution, preset_config
from likeness.swap.engine import register_engine

register_engine("autoencoder", make_autoencoder_engine)

__all__ = [
    "PRESETS", "TINY", "AutoencoderEngine", "DFModel", "ModelConfig", "check_resolution", "eyes_mouth_mask",
    "face_mask", "load_model", "make_autoencoder_engine", "preset_config",
]
