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


# -- enrolment clearance: facesets against facesets ---------------------------------------------
#
# The centroid rule above (``closest``) refuses on one distance under dlib's 0.6, where distinct
# people collide often (36 of 462 enrolment attempts on the shared media). Enrolment asks a
# stricter question: do most crop pairs of the two facesets agree that this is one person?
# Chosen from benchmarks/firewall.py (docs/threat-model.md, "Identity firewall"): one person's
# facesets from different media lie at 0.07-0.29 (0.53 for a profile-only set), the nearest two
# distinct people at 0.38, most above 0.5.

REFUSE_BELOW = 0.35  # median crop-pair distance under which enrolment is refused
REVIEW_BELOW = 0.55  # ... under which it is held until an operator says they are different people
AGREE_SHARE = 0.5  # share of the new crops that must each be close for a refusal


@dataclass(frozen=True)
class Clearance:
    """What the firewall says about a new faceset: ``clear``, ``review`` (held) or ``refuse``.

    ``distance`` is the median over every crop pair of the new faceset and ``nearest``'s;
    ``agreeing`` counts the new crops whose own median to ``nearest`` is under the refusal line.
    """

    outcome: str
    nearest: str | None = None
    distance: float | None = None
    agreeing: int = 0
    crops: int = 0

    def as_dict(self) -> dict:
        return {"outcome": self.outcome, "nearest": self.nearest, "distance": None if self.distance is None else round(self.distance, 4),
                "agreeing": self.agreeing, "crops": self.crops}


def clearance(embeddings: np.ndarray, enrolled: dict[str, np.ndarray], *, refuse_below: float = REFUSE_BELOW,
              review_below: float = REVIEW_BELOW, agree_share: float = AGREE_SHARE) -> Clearance:
    """The firewall's verdict on a new faceset against every enrolled one (pure embedding maths).

    A refusal needs the faceset-level median under ``refuse_below`` and at least ``agree_share``
    of the new crops agreeing on their own, so one odd crop neither refuses nor saves an enrolment.
    """
    mine = np.asarray(embeddings, np.float64).reshape(-1, 128)
    if not len(mine):
        return Clearance("clear")
    best: tuple[float, str, np.ndarray] | None = None
    for name, theirs in enrolled.items():
        theirs = np.asarray(theirs, np.float64).reshape(-1, 128)
        if not len(theirs):
            continue
        pairs = np.linalg.norm(mine[:, None, :] - theirs[None, :, :], axis=2)
        statistic = float(np.median(pairs))
        if best is None or statistic < best[0]:
            best = (statistic, name, np.median(pairs, axis=1))
    if best is None:
        return Clearance("clear", crops=len(mine))
    statistic, name, per_crop = best
    agreeing = int((per_crop < refuse_below).sum())
    if statistic < refuse_below and agreeing >= max(1, int(np.ceil(agree_share * len(mine)))):
        outcome = "refuse"
    elif statistic < review_below:
        outcome = "review"
    else:
        outcome = "clear"
    return Clearance(outcome, name, statistic, agreeing, len(mine))
