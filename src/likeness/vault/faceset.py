"""Facesets: the aligned crops of one identity with their landmarks, pose, embedding and quality.

A faceset only exists decrypted in memory; ``item_bytes``/``item_from_bytes`` turn an item into
the plaintext that is sealed straight away (``np.savez`` into a BytesIO, never a file).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np

from likeness.errors import VaultError
from likeness.faces import occlusion

from likeness.faces.types import Faceset, FacesetItem  # noqa: F401 - the vault's faceset is the faces package's

HAIR_OVER = 0.2  # share of the upper face under hair from which a crop counts as covered
MOUTH_OPEN = 0.25  # mouth aperture / width above which a crop counts as "mouth open"
EYES_CLOSED = 0.15


@dataclass(frozen=True)
class Coverage:
    """How much of the pose/expression space a faceset covers, with advice on what is missing."""

    items: int
    yaw: tuple[float, float]
    pitch: tuple[float, float]
    mouth_open_share: float
    eyes_closed_share: float
    advice: tuple[str, ...]
    glasses_share: float = 0.0  # crops whose face wears glasses (their frames are painted out of a swap)
    hair_share: float = 0.0  # crops with hair over a fifth or more of the upper face

    def as_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict) -> "Coverage":
        return Coverage(
            items=int(data["items"]),
            yaw=tuple(data["yaw"]),
            pitch=tuple(data["pitch"]),
            mouth_open_share=float(data["mouth_open_share"]),
            eyes_closed_share=float(data["eyes_closed_share"]),
            advice=tuple(data["advice"]),
            glasses_share=float(data.get("glasses_share", 0.0)),
            hair_share=float(data.get("hair_share", 0.0)),
        )


def coverage(items: list[FacesetItem] | tuple[FacesetItem, ...]) -> Coverage:
    """Ranges of yaw and pitch and expression shares, plus what a swap would still want."""
    if not items:
        return Coverage(0, (0.0, 0.0), (0.0, 0.0), 0.0, 0.0, ("no usable face yet: add well-lit, sharp photos or video",))
    yaws = np.array([item.pose.yaw for item in items])
    pitches = np.array([item.pose.pitch for item in items])
    mouths = np.array([item.quality.mouth_open if item.quality else 0.0 for item in items])
    eyes = np.array([item.quality.eyes_open if item.quality else 1.0 for item in items])
    mouth_share = float(np.mean(mouths > MOUTH_OPEN))
    eyes_closed = float(np.mean(eyes < EYES_CLOSED))
    flags = [occlusion.source_occluders(item.image, item.landmarks)[1] for item in items]
    glasses = float(np.mean([f["glasses"] for f in flags]))
    hair = float(np.mean([f["hair"] >= HAIR_OVER for f in flags]))
    advice = []
    if glasses > 0:
        advice.append(f"{round(glasses * len(items))} of {len(items)} crops wear glasses: their frames are painted out "
                      "of the swap, which then has less of the eyes; add photos without glasses")
    if hair > 0.5:
        advice.append("most crops have hair over the forehead: add photos with the forehead clear")
    if len(items) < 20:
        advice.append(f"only {len(items)} usable crops: 20 or more give a steadier swap")
    if yaws.min() > -25:
        advice.append("add views turned to the subject's right (yaw below -25 degrees)")
    if yaws.max() < 25:
        advice.append("add views turned to the subject's left (yaw above 25 degrees)")
    if pitches.min() > -10:
        advice.append("add views looking down (pitch below -10 degrees)")
    if pitches.max() < 10:
        advice.append("add views looking up (pitch above 10 degrees)")
    if mouth_share < 0.2:
        advice.append("add talking or smiling footage (mouth open)")
    if mouth_share > 0.8:
        advice.append("add footage with the mouth closed")
    if eyes_closed == 0.0:
        advice.append("add a few frames with the eyes closed (blinks)")
    return Coverage(
        items=len(items),
        yaw=(round(float(yaws.min()), 1), round(float(yaws.max()), 1)),
        pitch=(round(float(pitches.min()), 1), round(float(pitches.max()), 1)),
        mouth_open_share=round(mouth_share, 3),
        eyes_closed_share=round(eyes_closed, 3),
        advice=tuple(advice),
        glasses_share=round(glasses, 3),
        hair_share=round(hair, 3),
    )


_QUALITY_FIELDS = ("sharpness", "size", "frontalness", "eyes_open", "mouth_open", "overall")


def item_bytes(item: FacesetItem) -> bytes:
    """Plaintext serialisation of one item (in memory; the caller seals it at once)."""
    buffer = io.BytesIO()
    quality = (
        np.array([getattr(item.quality, f) for f in _QUALITY_FIELDS], np.float64)
        if item.quality is not None
        else np.zeros(0, np.float64)
    )
    np.savez(
        buffer,
        image=np.ascontiguousarray(item.image, dtype=np.uint8),
        landmarks=np.asarray(item.landmarks, np.float32),
        pose=np.array([item.pose.yaw, item.pose.pitch, item.pose.roll], np.float64),
        embedding=np.asarray(item.embedding, np.float32),
        quality=quality,
    )
    return buffer.getvalue()


def item_from_bytes(data: bytes, *, what: str) -> FacesetItem:
    from likeness.faces.types import Pose, Quality

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            pose = arrays["pose"]
            quality = arrays["quality"]
            return FacesetItem(
                image=arrays["image"],
                landmarks=arrays["landmarks"],
                pose=Pose(*(float(v) for v in pose)),
                embedding=arrays["embedding"],
                quality=Quality(*(float(v) for v in quality)) if quality.size else None,
            )
    except (ValueError, KeyError, OSError) as exc:
        raise VaultError(f"{what} decrypted but is not a faceset item: {exc}") from None


def embeddings_bytes(embeddings: np.ndarray) -> bytes:
    return np.ascontiguousarray(embeddings, dtype=np.float32).tobytes()


def embeddings_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32).reshape(-1, 128).copy()
