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


def paint_outside(image: Image, landmarks: np.ndarray, colour: tuple[int, int, int]) -> Image:
    """``image`` with everything outside the convex hull of its face's landmarks set to ``colour``."""
    out = np.array(image, copy=True)
    hull = cv2.convexHull(np.round(np.asarray(landmarks)[:478, :2]).astype(np.int32))
    inside = np.zeros(out.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, hull, 1)
    out[inside == 0] = colour
    return out


def share_from_outside(make: Callable[[], Engine], faceset: Faceset, target: Image, face: Face) -> float:
    """Share of the swapped face (weighted by its mask) whose pixels came from outside the
    source faces' hulls: 0 is the aim. ``make`` builds a fresh engine; one that can
    ``repaint`` its prepared crops is painted after preparing (so what it judged from the
    photos, such as where glasses are, stays the same), any other is given painted photos."""
    patches = []
    for colour in ((255, 0, 255), (0, 255, 0)):
        engine = make()
        paint = lambda image, landmarks, colour=colour: paint_outside(image, landmarks, colour)  # noqa: E731
        if hasattr(engine, "repaint"):
            engine.prepare(faceset)
            engine.repaint(paint)
        else:
            items = tuple(dataclasses.replace(i, image=paint(i.image, i.landmarks)) for i in faceset.items)
            engine.prepare(dataclasses.replace(faceset, items=items))
        patches.append(engine.swap(target, face))
        close = getattr(engine, "close", None)
        if callable(close):
            close()
    a, b = patches
    moved = np.abs(a.image.astype(np.int16) - b.image.astype(np.int16)).max(2) > 8
    return float((a.mask * moved).sum() / max(float(a.mask.sum()), 1e-6))
