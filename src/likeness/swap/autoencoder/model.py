"""The DF autoencoder (DeepFaceLab SAEHD "DF"): one shared encoder and inter layer, a decoder per side.

Both sides pass through the same encoder and inter layer, so the latent code learns what the two
faces share (pose, expression, light); each decoder learns to paint one identity. Swapping is
encoding a target face and decoding it with the source decoder. Every decoder also predicts a
face mask, which the engine combines with the landmark mask when pasting back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from likeness.errors import InputError

MIN_RESOLUTION = 32
MAX_RESOLUTION = 256


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the network; ``resolution`` must be a multiple of 16 (four stride-2 stages)."""

    resolution: int = 64
    e_dims: int = 32  # encoder channels of the first stage (doubling per stage)
    ae_dims: int = 128  # width of the bottleneck
    d_dims: int = 32  # decoder channels of the last stage
    d_mask_dims: int = 16  # mask decoder channels of the last stage

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


PRESETS: dict[str, ModelConfig] = {
    # Sized for a 2-core CPU: a recognisable face in about 30 minutes.
    "quick": ModelConfig(resolution=64, e_dims=24, ae_dims=128, d_dims=24, d_mask_dims=12),
    # SAEHD-like sizes for a GPU.
    "quality": ModelConfig(resolution=192, e_dims=64, ae_dims=256, d_dims=64, d_mask_dims=22),
}

# Sizes that give a fast, still meaningful model for tests.
TINY = ModelConfig(resolution=32, e_dims=8, ae_dims=32, d_dims=8, d_mask_dims=4)


def preset_config(preset: str, resolution: int | None = None) -> ModelConfig:
    """The config of a named preset, optionally at another resolution (64..256, multiple of 16)."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    base = PRESETS[preset]
    if resolution is None:
        return base
    check_resolution(resolution)
    return ModelConfig(
        resolution=resolution, e_dims=base.e_dims, ae_dims=base.ae_dims, d_dims=base.d_dims, d_mask_dims=base.d_mask_dims
    )


def check_resolution(resolution: int, *, low: int = MIN_RESOLUTION) -> None:
    if not (low <= resolution <= MAX_RESOLUTION) or resolution % 16:
        raise InputError(f"--resolution {resolution}: must be a multiple of 16 between {low} and {MAX_RESOLUTION}")


def _conv(cin: int, cout: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2), nn.LeakyReLU(0.1))


class _Upscale(nn.Module):
    """Conv to 4x channels then pixel shuffle: DFL's upscale, free of checkerboard artefacts."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, 3, 1, 1)
        self.act = nn.LeakyReLU(0.1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.act(self.conv(x)))


class _ResidualBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(ch, ch, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv1(x))
        return self.act(x + self.conv2(y))


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        e = cfg.e_dims
        self.net = nn.Sequential(
            _conv(3, e, 2, 5), _conv(e, e * 2, 2, 5), _conv(e * 2, e * 4, 2, 5), _conv(e * 4, e * 8, 2, 5)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.net(x), 1)


class Inter(nn.Module):
    """Dense bottleneck shared by both sides, back out to a small feature map."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.low = cfg.resolution // 16
        self.ae = cfg.ae_dims
        in_features = cfg.e_dims * 8 * self.low * self.low
        self.dense1 = nn.Linear(in_features, cfg.ae_dims)
        self.dense2 = nn.Linear(cfg.ae_dims, self.low * self.low * cfg.ae_dims)
        self.up = _Upscale(cfg.ae_dims, cfg.ae_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dense2(self.dense1(x))
        return self.up(x.view(-1, self.ae, self.low, self.low))


class Decoder(nn.Module):
    """Paints one identity: RGB in [0, 1] and a face mask in [0, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d, m, a = cfg.d_dims, cfg.d_mask_dims, cfg.ae_dims
        self.up = nn.Sequential(
            _Upscale(a, d * 8), _ResidualBlock(d * 8),
            _Upscale(d * 8, d * 4), _ResidualBlock(d * 4),
            _Upscale(d * 4, d * 2), _ResidualBlock(d * 2),
        )  # fmt: skip
        self.rgb = nn.Conv2d(d * 2, 3, 1)
        self.mask = nn.Sequential(_Upscale(a, m * 8), _Upscale(m * 8, m * 4), _Upscale(m * 4, m * 2), nn.Conv2d(m * 2, 1, 1))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.sigmoid(self.rgb(self.up(z))), torch.sigmoid(self.mask(z))


class DFModel(nn.Module):
    """Shared encoder + inter, decoders ``src`` (the talent) and ``dst`` (the target footage)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        check_resolution(cfg.resolution)
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.inter = Inter(cfg)
        self.decoder_src = Decoder(cfg)
        self.decoder_dst = Decoder(cfg)

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        return self.inter(self.encoder(x))

    def forward(self, src: torch.Tensor, dst: torch.Tensor):
        """Reconstructions of both sides, each (rgb, mask); inputs are Bx3xRxR in [0, 1]."""
        return self.decoder_src(self.latent(src)), self.decoder_dst(self.latent(dst))

    def swap(self, dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The source face painted in the target's pose: (rgb, src-decoder mask, dst-decoder mask)."""
        z = self.latent(dst)
        rgb, mask_src = self.decoder_src(z)
        _, mask_dst = self.decoder_dst(z)
        return rgb, mask_src, mask_dst
