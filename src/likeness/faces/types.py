"""Domain types of face analysis.

Coordinates are pixels of the analysed image: x to the right, y down. Landmarks follow
mediapipe's 478-point face mesh order (468 mesh points + 10 iris points); z is relative depth
in the same pixel units (smaller is nearer the camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]  # RGB, HxWx3
Landmarks = NDArray[np.float32]  # (478, 3)
Embedding = NDArray[np.float32]  # (128,), dlib face-recognition space


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees: yaw (left/right), pitch (up/down), roll (in-plane)."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class Quality:
    """Scores for keeping or dropping a face crop; ``overall`` is in [0, 1]."""

    sharpness: float
    size: float  # face width in pixels
    frontalness: float  # 1 = frontal, 0 = profile
    eyes_open: float  # eye aperture, 0 closed .. ~1 wide
    mouth_open: float  # mouth aperture relative to mouth width
    overall: float


@dataclass(frozen=True, eq=False)
class Face:
    """One face in one image or frame."""

    box: tuple[int, int, int, int]  # x, y, w, h in pixels
    score: float
    landmarks: Landmarks
    pose: Pose
    quality: Quality | None = None
    track: int | None = None
    embedding: Embedding | None = field(default=None, repr=False)
    bridged: bool = False  # True when a tracker held/extrapolated this face over a missed detection


@dataclass(frozen=True, eq=False)
class FacesetItem:
    """One aligned square crop of an identity (512 px when enrolled); landmarks in crop pixels."""

    image: Image
    landmarks: Landmarks
    pose: Pose
    embedding: Embedding | None
    quality: Quality | None = None


@dataclass(frozen=True, eq=False)
class Faceset:
    """The crops of one identity: decrypted by the vault, in memory only, read by the engines."""

    identity: str
    items: tuple[FacesetItem, ...]

    @property
    def embeddings(self) -> NDArray[np.float32]:
        return np.stack([item.embedding for item in self.items]).astype(np.float32)

    def __len__(self) -> int:
        return len(self.items)
