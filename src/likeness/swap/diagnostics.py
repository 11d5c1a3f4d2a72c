"""Measurements of a swap that need the engine's inputs changed: for tests and benchmarks.

Where did the pixels of a swapped face come from? Paint everything outside each source crop's
face hull one flat colour, then another: a pixel of the patch that changes with it was taken
from the source photo's backdrop (the blue studio wall warped into a cheek).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import cv2
import numpy as np

from likeness.faces.types import Face, Faceset, Image
from likeness.swap.engine import Engine


def backdrop_painted(faceset: Faceset, colour: tuple[int, int, int]) -> Faceset:
    """The faceset with everything outside each crop's landmark hull painted ``colour``."""
    items = []
    for item in faceset.items:
        image = np.array(item.image, copy=True)
        hull = cv2.convexHull(np.round(np.asarray(item.landmarks)[:478, :2]).astype(np.int32))
        inside = np.zeros(image.shape[:2], np.uint8)
        cv2.fillConvexPoly(inside, hull, 1)
        image[inside == 0] = colour
        items.append(dataclasses.replace(item, image=image))
    return dataclasses.replace(faceset, items=tuple(items))


def share_from_outside(make: Callable[[], Engine], faceset: Faceset, target: Image, face: Face) -> float:
    """Share of the swapped face (weighted by its mask) whose pixels came from outside the
    source faces' hulls: 0 is the aim. ``make`` builds a fresh engine."""
    patches = []
    for colour in ((255, 0, 255), (0, 255, 0)):
        engine = make()
        engine.prepare(backdrop_painted(faceset, colour))
        patches.append(engine.swap(target, face))
    a, b = patches
    moved = np.abs(a.image.astype(np.int16) - b.image.astype(np.int16)).max(2) > 8
    return float((a.mask * moved).sum() / max(float(a.mask.sum()), 1e-6))
