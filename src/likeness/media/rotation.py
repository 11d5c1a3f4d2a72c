"""Turning stored frames upright from a display-matrix rotation (phone video is stored sideways)."""

from __future__ import annotations

import numpy as np

from likeness.media.types import Image


def quarter_turns(degrees: float) -> int:
    """Counter-clockwise quarter turns (0-3) nearest to ``degrees``; cameras only use multiples of 90."""
    return int(round(degrees / 90.0)) % 4


def rotate_upright(image: Image, degrees: float) -> Image:
    """Rotate ``image`` counter-clockwise by ``degrees`` (PyAV's ``VideoFrame.rotation`` convention).

    A phone clip tagged ``rotate=90`` (display clockwise) has rotation -90 here, so it turns
    clockwise. The result is contiguous so it can go straight to OpenCV or an encoder.
    """
    turns = quarter_turns(degrees)
    if turns == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=turns))
