"""Shared fixtures: real faces only. ``../shared/media`` is used where present, skipped otherwise."""

from __future__ import annotations

from pathlib import Path

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
