"""Shared fixtures: real faces only. ``../shared/media`` is used where present, skipped otherwise."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
SHARED_MEDIA = ROOT.parent / "shared" / "media"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """NASA portrait of Eileen Collins (public domain), always available."""
    return data.astronaut()


@pytest.fixture(scope="session")
def media_dir() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"licensed test media not found at {SHARED_MEDIA}")
    return SHARED_MEDIA


def shared(name: str) -> Path:
    """Path of one shared media file, skipping the test when it is absent."""
    path = SHARED_MEDIA / name
    if not path.is_file():
        pytest.skip(f"{name} not found in {SHARED_MEDIA}")
    return path


def jpeg(image, quality):
    """``image`` after a JPEG round trip at ``quality`` (the attack suite's recompression)."""
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]


def crop_half_area(image, y0, x0):
    """A crop to about half the area (0.7072 of each side) at relative offset (y0, x0)."""
    h, w = image.shape[:2]
    ch, cw = int(h * 0.7072), int(w * 0.7072)
    y, x = int((h - ch) * y0), int((w - cw) * x0)
    return image[y : y + ch, x : x + cw]
