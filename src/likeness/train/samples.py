"""Training samples: aligned face crops at the model resolution with their landmark masks.

Everything here lives in memory: the source side comes decrypted from the vault's faceset and is
never written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.errors import InputError
from likeness.swap.autoencoder.masks import eyes_mouth_mask, face_mask


@dataclass(frozen=True, eq=False)
class FaceSamples:
    """N aligned crops (N, R, R, 3) uint8 RGB, face masks and eyes/mouth masks (N, R, R) float32."""

    images: NDArray[np.uint8]
    masks: NDArray[np.float32]
    eyes_mouth: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def resolution(self) -> int:
        return int(self.images.shape[1])


def samples_from_crops(crops: Iterable[tuple[np.ndarray, np.ndarray]], resolution: int, *, name: str) -> FaceSamples:
    """Resize aligned crops (any square size) and their crop-space landmarks to ``resolution``."""
    images, masks, em = [], [], []
    for image, landmarks in crops:
        size = image.shape[0]
        if image.ndim != 3 or image.shape[1] != size:
            raise InputError(f"{name}: aligned crops must be square RGB images, got shape {image.shape}")
        lm = np.asarray(landmarks, np.float32)[:, :2] * (resolution / size)
        interp = cv2.INTER_AREA if size > resolution else cv2.INTER_CUBIC
        images.append(cv2.resize(np.ascontiguousarray(image), (resolution, resolution), interpolation=interp))
        masks.append(face_mask(lm, resolution))
        em.append(eyes_mouth_mask(lm, resolution))
    if not images:
        raise InputError(f"{name}: no faces to train on")
    return FaceSamples(np.stack(images), np.stack(masks), np.stack(em))


def samples_from_faceset(faceset, resolution: int, *, name: str) -> FaceSamples:
    """The vault faceset's aligned crops (FacesetItem.image, .landmarks in crop pixels)."""
    items = list(getattr(faceset, "items", faceset))
    return samples_from_crops(((it.image, it.landmarks) for it in items), resolution, name=f"faceset of {name}")
