"""Enrolment: from photos and videos of one person to a varied, filtered faceset in the vault.

Video is sampled (a few frames a second), every face is detected, frames with several faces are
refused, crops are aligned at 512 px, blurred, tiny and near-duplicate crops are dropped, and the
rest are thinned for variety of pose and expression. All crops stay in memory until the vault
seals them.
"""

from __future__ import annotations

from typing import Any

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from likeness import media
from likeness.errors import ConsentError, NoFaceError
from likeness.faces import FaceAnalyzer, align
from likeness.faces.types import Face, Image
from likeness.vault.faceset import Coverage, FacesetItem, coverage
from likeness.vault.firewall import strangers
from likeness.vault.store import Identity, Vault

CROP_SIZE = 512
MIN_FACE_PX = 80  # narrower faces upscale into mush at 512 px
MIN_SHARPNESS = 0.2  # quality.sharpness (Laplacian variance v / (v + 200)): below is visibly blurred
MAX_ITEMS = 64


@dataclass(frozen=True)
class EnrolOptions:
    frames_per_second: float = 2.5
    crop_size: int = CROP_SIZE
    min_face_px: int = MIN_FACE_PX
    min_sharpness: float = MIN_SHARPNESS
    max_items: int = MAX_ITEMS


@dataclass(frozen=True)
class Collected:
    """Candidate crops with the file each came from, and why others were dropped."""

    items: tuple[FacesetItem, ...]
    sources: tuple[str, ...]
    examined: int
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EnrolReport:
    identity: Identity
    examined: int
    kept: int
    dropped: dict[str, int]
    coverage: Coverage

    def as_dict(self) -> dict:
        return {
            "identity": self.identity.name,
            "id": self.identity.id,
            "role": self.identity.role,
            "owner_key": self.identity.fingerprint,
            "status": self.identity.status,
            "examined": self.examined,
            "kept": self.kept,
            "items_total": self.identity.items,
            "dropped": self.dropped,
            "coverage": self.identity.coverage.as_dict(),
        }


def _images(path: Path, per_second: float):
    """(label, image) pairs: a photo once, a video sampled at ``per_second``."""
    if media.is_video(path):
        next_time = 0.0
        for frame in media.read_frames(path):
            if frame.time + 1e-6 >= next_time:
                next_time = frame.time + 1.0 / per_second
                yield f"{path.name}@{frame.time:.2f}s", frame.image
    else:
        yield path.name, media.read_image(path)


def _candidate(analyzer: FaceAnalyzer, image: Image, face: Face, size: int) -> FacesetItem:
    aligned = align(image, face, size)
    return FacesetItem(
        image=aligned.image,
        landmarks=np.asarray(aligned.landmarks, np.float32),
        pose=face.pose,
        embedding=np.asarray(analyzer.embed(image, face), np.float32),
        quality=face.quality,
    )


def _features(item: FacesetItem) -> np.ndarray:
    q = item.quality
    # Degrees for pose; expressions scaled so 0.1 of mouth opening weighs like ~5 degrees.
    return np.array([item.pose.yaw, item.pose.pitch, item.pose.roll * 0.3, (q.mouth_open if q else 0) * 50, (q.eyes_open if q else 1) * 20])


def near_duplicate(a: FacesetItem, b: FacesetItem) -> bool:
    """Same pose and expression and almost the same embedding: one adds nothing to the other."""
    close_pose = np.abs(_features(a) - _features(b)).max() < 2.5
    return bool(close_pose and np.linalg.norm(a.embedding - b.embedding) < 0.2)


def select_varied(items: list[FacesetItem], sources: list[str], max_items: int) -> tuple[list[FacesetItem], list[str], int]:
    """Drop near-duplicates (keeping the better crop), then thin by farthest-point sampling."""
    order = sorted(range(len(items)), key=lambda i: -(items[i].quality.overall if items[i].quality else 0))
    kept: list[int] = []
    for i in order:
        if not any(near_duplicate(items[i], items[j]) for j in kept):
            kept.append(i)
    duplicates = len(items) - len(kept)
    if len(kept) > max_items:
        feats = np.stack([_features(items[i]) for i in kept])
        chosen = [0]
        dist = np.linalg.norm(feats - feats[0], axis=1)
        while len(chosen) < max_items:
            nxt = int(np.argmax(dist))
            chosen.append(nxt)
            dist = np.minimum(dist, np.linalg.norm(feats - feats[nxt], axis=1))
        kept = [kept[c] for c in chosen]
    return [items[i] for i in kept], [sources[i] for i in kept], duplicates


def collect(paths: list[Path], analyzer: FaceAnalyzer, options: EnrolOptions = EnrolOptions()) -> Collected:
    """Detect, filter and align every usable face in ``paths`` (one person expected)."""
    paths = [Path(p) for p in paths]
    images = (pair for path in paths for pair in _images(path, options.frames_per_second))
    return collect_images(images, analyzer, options, what=", ".join(p.name for p in paths))


def collect_images(images, analyzer: FaceAnalyzer, options: EnrolOptions = EnrolOptions(), *, what: str = "the images") -> Collected:
    """Like ``collect`` for (label, image) pairs already in memory (uploads, augmented stills)."""
    items: list[FacesetItem] = []
    sources: list[str] = []
    dropped: Counter[str] = Counter()
    examined = 0
    for label, image in images:
        examined += 1
        faces = analyzer.detect(image)
        if not faces:
            dropped["no face"] += 1
            continue
        if len(faces) > 1:
            dropped["several faces"] += 1
            continue
        face = faces[0]
        quality = face.quality
        if quality is not None and quality.size < options.min_face_px:
            dropped["tiny"] += 1
            continue
        if quality is not None and quality.sharpness < options.min_sharpness:
            dropped["blurred"] += 1
            continue
        items.append(_candidate(analyzer, image, face, options.crop_size))
        sources.append(label)
    if not items:
        reasons = ", ".join(f"{n} {why}" for why, n in dropped.items()) or "nothing readable"
        raise NoFaceError(f"no usable face in {what} ({reasons})")
    odd = strangers(np.stack([item.embedding for item in items]))
    if odd:
        named = ", ".join(sources[i] for i in odd[:3])
        raise ConsentError(f"refused: the media shows more than one person ({named} is someone else); enrol one person at a time")
    kept, kept_sources, duplicates = select_varied(items, sources, options.max_items)
    if duplicates:
        dropped["near-duplicate"] += duplicates
    thinned = len(items) - duplicates - len(kept)
    if thinned:
        dropped["thinned for variety"] += thinned
    return Collected(tuple(kept), tuple(kept_sources), examined, dict(dropped))


def enrol(
    vault: Vault,
    name: str,
    paths: list[Path],
    *,
    analyzer: FaceAnalyzer,
    role: str = "self",
    talent_passphrase: str | None = None,
    owner: Any = None,
    options: EnrolOptions = EnrolOptions(),
) -> EnrolReport:
    """Enrol a new identity; on an existing name, add the media after a same-person check."""
    collected = collect(paths, analyzer, options)
    files = [str(p) for p in paths]
    if any(i.name == name.strip() for i in vault.identities()):
        identity = vault.add_media(name, list(collected.items), sources=files)
    else:
        identity = vault.enrol(name, list(collected.items), role=role, talent_passphrase=talent_passphrase, sources=files, owner=owner)
    return EnrolReport(identity, collected.examined, len(collected.items), collected.dropped, identity.coverage)


__all__ = ["Collected", "EnrolOptions", "EnrolReport", "collect", "collect_images", "coverage", "enrol", "near_duplicate", "select_varied"]
