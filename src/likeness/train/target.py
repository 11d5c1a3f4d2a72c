"""The target side: faces of the footage the model will be used on, aligned at the model resolution."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from likeness import media
from likeness.errors import InputError, NoFaceError
from likeness.faces import align
from likeness.faces.types import Image
from likeness.train.samples import FaceSamples, samples_from_crops

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
ALIGN_PADDING = 0.25  # the vault's faceset crops use align()'s default padding; both sides must match


def _target_images(path: Path, max_frames: int) -> Iterator[Image]:
    """Frames of a video (evenly spread), images of a folder, or one image."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{path}: folder holds no .png/.jpg/.jpeg/.webp images")
        for p in files[:: max(1, len(files) // max_frames)][:max_frames]:
            yield media.read_image(p)
        return
    if not path.is_file():
        raise InputError(f"{path}: target not found")
    if not media.is_video(path):
        yield media.read_image(path)
        return
    count = media.probe(path).frame_count or 0
    step = max(1, count // max_frames) if count else 1
    taken = 0
    for frame in media.read_frames(path):
        if frame.index % step == 0 and taken < max_frames:
            taken += 1
            yield frame.image


def target_samples(path: str | Path, analyzer, resolution: int, *, max_frames: int = 300) -> FaceSamples:
    """The largest face of each sampled frame, aligned like the faceset crops at ``resolution``."""
    path = Path(path)
    crops = []
    for image in _target_images(path, max_frames):
        faces = analyzer.detect(image)
        if faces:
            aligned = align(image, faces[0], size=resolution, padding=ALIGN_PADDING)
            crops.append((aligned.image, np.asarray(aligned.landmarks, np.float32)))
    if not crops:
        raise NoFaceError(f"{path}: no face found in the target to train on")
    return samples_from_crops(crops, resolution, name=str(path))
