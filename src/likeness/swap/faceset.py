"""A faceset held in memory: aligned crops of one identity with their landmarks.

The vault decrypts an enrolled identity into :class:`likeness.faces.Faceset`; tests and
benchmarks build one directly from images with :func:`make_faceset`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from likeness.errors import NoFaceError
from likeness.faces.types import Faceset, FacesetItem, Image


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
