"""Which torch device to use: said plainly, and never a silent CPU fallback when CUDA was asked for."""

from __future__ import annotations

import torch

from likeness.errors import InputError


def resolve_device(requested: str) -> torch.device:
    """``auto`` picks CUDA when present; an explicit ``cuda`` without one is refused, never downgraded."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cpu":
        return torch.device("cpu")
    if requested == "cuda" or requested.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {requested}: no CUDA GPU is available to PyTorch here (use --device cpu or auto)")
        return torch.device(requested)
    raise InputError(f"--device {requested!r}: choose auto, cpu or cuda")


def describe_device(device: torch.device) -> str:
    """E.g. ``cuda (NVIDIA H100 80GB HBM3)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
