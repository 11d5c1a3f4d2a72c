"""The likeness firewall: one person per faceset, one identity per person.

Distances are dlib face-descriptor distances (Euclidean), where 0.6 separates people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ADAPTER: the same rule as likeness.faces.distance / SAME_PERSON_THRESHOLD (Euclidean, 0.6),
# kept here so the vault can check facesets without loading the face models.
SAME_PERSON_THRESHOLD = 0.6


@dataclass(frozen=True)
class Match:
    identity: str
    distance: float


def centre(embeddings: np.ndarray) -> np.ndarray:
    """The medoid-trimmed mean: robust to one odd crop."""
    embeddings = np.asarray(embeddings, np.float32).reshape(-1, 128)
    medoid = embeddings[np.argmin(_pairwise(embeddings).sum(axis=1))]
    near = embeddings[np.linalg.norm(embeddings - medoid, axis=1) <= SAME_PERSON_THRESHOLD]
    return (near if len(near) else embeddings).mean(axis=0)


def _pairwise(embeddings: np.ndarray) -> np.ndarray:
    diff = embeddings[:, None, :] - embeddings[None, :, :]
    return np.linalg.norm(diff, axis=2)


def strangers(embeddings: np.ndarray) -> list[int]:
    """Indices of items that are not the faceset's main person (empty: one person)."""
    embeddings = np.asarray(embeddings, np.float32).reshape(-1, 128)
    if len(embeddings) < 2:
        return []
    medoid = embeddings[np.argmin(_pairwise(embeddings).sum(axis=1))]
    far = np.linalg.norm(embeddings - medoid, axis=1) > SAME_PERSON_THRESHOLD
    return [int(i) for i in np.flatnonzero(far)]


def closest(embeddings: np.ndarray, enrolled: dict[str, np.ndarray]) -> Match | None:
    """The enrolled identity this faceset's person matches, if any."""
    if not enrolled or len(embeddings) == 0:
        return None
    mine = centre(embeddings)
    best = min(
        (Match(name, float(np.linalg.norm(mine - centre(theirs)))) for name, theirs in enrolled.items() if len(theirs)),
        key=lambda m: m.distance,
        default=None,
    )
    return best if best is not None and best.distance < SAME_PERSON_THRESHOLD else None


def same_person(embeddings: np.ndarray, reference: np.ndarray) -> float | None:
    """Distance between two facesets' people, or None when they are different people."""
    d = float(np.linalg.norm(centre(embeddings) - centre(reference)))
    return d if d < SAME_PERSON_THRESHOLD else None
