"""A faceset held in memory: aligned crops of one identity with their landmarks.

The vault decrypts an enrolled identity into this shape; tests and benchmarks build one directly
from images with :func:`make_faceset`. Engines read any object with ``items`` of objects with
these attributes, so the vault may define its own classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from likeness.errors import NoFaceError
from likeness.faces.types import Embedding, Image, Landmarks, Pose, Quality


@dataclass(frozen=True, eq=False)
class FacesetItem:
    """One aligned crop (512x512) of the identity; landmarks are in crop pixels."""

    image: Image
    landmarks: Landmarks
    pose: Pose
    embedding: Embedding | None
    quality: Quality | None


@dataclass(frozen=True, eq=False)
class Faceset:
    """The crops of one identity, decrypted, in memory only."""

    identity: str
    items: tuple[FacesetItem, ...]


def make_faceset(images: Iterable[Image], analyzer, *, identity: str = "source",
                 size: int = 512) -> Faceset:
    """Detect, align and embed the largest face of each image (NoFaceError when none has one)."""
    from likeness.faces import align

    items = []
    for image in images:
        faces = analyzer.detect(image)
        if not faces:
            continue
        face = faces[0]
        aligned = align(image, face, size=size)
        items.append(FacesetItem(
            image=aligned.image,
            landmarks=np.asarray(aligned.landmarks, np.float32),
            pose=face.pose,
            embedding=analyzer.embed(image, face),
            quality=face.quality,
        ))
    if not items:
        raise NoFaceError(f"no face found in any of the images for faceset {identity!r}")
    return Faceset(identity, tuple(items))
