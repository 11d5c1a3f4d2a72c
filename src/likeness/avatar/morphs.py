"""Morph targets from the faceset's own expressive crops, named like ARKit's blendshapes.

Every crop is already aligned to the rest shape (``avatar.fit``: on the points an expression
does not move). A target is the mean offset, from the rest shape, of the crops that show the
expression, kept to the part of the face that expression moves (a smooth mask), so that the
head's turn in those crops and the mesh's noise elsewhere do not come along. Nothing is
invented: an expression no crop shows is reported missing, with what to enrol.

Left and right are the subject's own (ARKit's, whose face frame has +X at the face's left).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from likeness.avatar.fit import Fit, eye_aperture, mouth_aperture
from likeness.avatar.topology import LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE
from likeness.faces.types import FacesetItem

MORPH_TARGETS = ("jawOpen", "mouthSmileLeft", "mouthSmileRight", "eyeBlinkLeft", "eyeBlinkRight", "browInnerUp")

MOUTH_OPEN = 0.25  # inner-lip gap over mouth width from which a crop shows the jaw open (as vault.faceset counts it)
MOUTH_SHUT = 0.12  # at most this for a crop to count as at rest
EYE_SHUT = 0.3  # one eye's aperture (1 relaxed open) below which it is closed
EYE_OPEN = 0.6  # at least this, both eyes, for a crop at rest
SMILE_WIDER = 0.06  # mouth this much wider than at rest ...
SMILE_LIFT_M = 0.0015  # ... with its corners this much higher (relative to the lips' middle): a smile
BROW_RAISE_M = 0.0025  # inner brows this much further above the eyes than at rest
MIDLINE_M = 0.006  # the left/right split fades over this distance across the middle of the face

MOUTH_CORNERS = (61, 291)  # the subject's right, left mouth corner
LIP_MIDDLE = (13, 14)
INNER_BROWS = (107, 336, 55, 285, 65, 295)  # inner ends of the right and left brow
NOSE_TIP = 1


@dataclass(frozen=True)
class Expressions:
    """What each crop shows, measured on its landmarks and its aligned shape."""

    mouth: NDArray[np.float64]  # aperture per crop
    left_eye: NDArray[np.float64]
    right_eye: NDArray[np.float64]
    smile: NDArray[np.bool_]
    brows: NDArray[np.bool_]

    def at_rest(self) -> list[int]:
        """Crops with the mouth shut, both eyes open, no smile and no raised brows."""
        rest = (self.mouth <= MOUTH_SHUT) & (self.left_eye >= EYE_OPEN) & (self.right_eye >= EYE_OPEN) & ~self.smile & ~self.brows
        return [int(i) for i in np.nonzero(rest)[0]]

    def expressive(self) -> list[int]:
        busy = (self.mouth >= MOUTH_OPEN) | self.smile | self.brows | (self.left_eye < EYE_SHUT) | (self.right_eye < EYE_SHUT)
        return [int(i) for i in np.nonzero(busy)[0]]


def _mouth_width(p: NDArray[np.float64]) -> float:
    return float(np.linalg.norm(p[MOUTH_CORNERS[0]] - p[MOUTH_CORNERS[1]]))


def _corner_lift(p: NDArray[np.float64]) -> float:
    return float(p[list(MOUTH_CORNERS), 1].mean() - p[list(LIP_MIDDLE), 1].mean())


def _brow_height(p: NDArray[np.float64]) -> float:
    eyes = (p[LEFT_IRIS_CENTRE, 1] + p[RIGHT_IRIS_CENTRE, 1]) / 2
    return float(p[list(INNER_BROWS), 1].mean() - eyes)


def measure(items: Sequence[FacesetItem], fit: Fit | None = None) -> Expressions:
    """Apertures from each crop's landmarks; smile and brows against ``fit``'s rest shape (none without it)."""
    n = len(items)
    mouth = np.array([mouth_aperture(item.landmarks) for item in items])
    left = np.array([eye_aperture(item.landmarks, "left") for item in items])
    right = np.array([eye_aperture(item.landmarks, "right") for item in items])
    smile = np.zeros(n, bool)
    brows = np.zeros(n, bool)
    if fit is not None:
        rest = fit.shape
        width, lift, brow = _mouth_width(rest), _corner_lift(rest), _brow_height(rest)
        for i, view in enumerate(fit.views):
            smile[i] = _mouth_width(view) >= width * (1 + SMILE_WIDER) and _corner_lift(view) - lift >= SMILE_LIFT_M
            brows[i] = _brow_height(view) - brow >= BROW_RAISE_M
    return Expressions(mouth, left, right, smile, brows)


def _smoothstep(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _masks(rest: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Per target, how much each point may move (0..1)."""
    x, y = rest[:, 0], rest[:, 1]
    nose_y = rest[NOSE_TIP, 1]
    eye_y = (rest[LEFT_IRIS_CENTRE, 1] + rest[RIGHT_IRIS_CENTRE, 1]) / 2
    lower = _smoothstep((nose_y - 0.004 - y) / 0.012)  # below the nose, fading in over 12 mm
    left_side = _smoothstep(0.5 + x / (2 * MIDLINE_M))
    right_side = 1.0 - left_side

    def around(centre: NDArray[np.float64], radius: float) -> NDArray[np.float64]:
        return _smoothstep((radius - np.linalg.norm(rest[:, :2] - centre[:2], axis=1)) / (0.4 * radius))

    brows = _smoothstep((y - eye_y - 0.004) / 0.01) * _smoothstep((0.05 - np.abs(x)) / 0.02)
    return {
        "jawOpen": lower,
        "mouthSmileLeft": lower * left_side,
        "mouthSmileRight": lower * right_side,
        "eyeBlinkLeft": around(rest[LEFT_IRIS_CENTRE], 0.02),
        "eyeBlinkRight": around(rest[RIGHT_IRIS_CENTRE], 0.02),
        "browInnerUp": brows,
    }


@dataclass(frozen=True, eq=False)
class Morphs:
    """The targets made (name -> (478, 3) offsets in metres), the crops each came from, and why others are missing."""

    targets: dict[str, NDArray[np.float64]]
    crops: dict[str, int]
    missing: dict[str, str]


def morph_targets(fit: Fit, expressions: Expressions) -> Morphs:
    """Every target of ``MORPH_TARGETS`` the crops show; the others in ``missing`` with the reason."""
    rejected = set(fit.rejected)  # a mesh fitted to the wrong face shows no expression either
    pick = {
        "jawOpen": expressions.mouth >= MOUTH_OPEN,
        "mouthSmileLeft": expressions.smile,
        "mouthSmileRight": expressions.smile,
        "eyeBlinkLeft": expressions.left_eye < EYE_SHUT,
        "eyeBlinkRight": expressions.right_eye < EYE_SHUT,
        "browInnerUp": expressions.brows,
    }
    why = {
        "jawOpen": f"no crop shows the mouth open (an inner-lip gap of {MOUTH_OPEN:.0%} of its width or more): enrol talking footage",
        "mouthSmileLeft": "no crop smiles (the mouth wider than at rest with its corners raised): enrol a smiling photo or clip",
        "mouthSmileRight": "no crop smiles (the mouth wider than at rest with its corners raised): enrol a smiling photo or clip",
        "eyeBlinkLeft": "no crop shows the left eye closed: enrol a clip with blinks",
        "eyeBlinkRight": "no crop shows the right eye closed: enrol a clip with blinks",
        "browInnerUp": f"no crop shows the brows raised ({BROW_RAISE_M * 1000:.1f} mm or more above rest): enrol a clip with raised brows",
    }
    masks = _masks(fit.shape)
    targets, crops, missing = {}, {}, {}
    for name in MORPH_TARGETS:
        chosen = [int(i) for i in np.nonzero(pick[name])[0] if i not in rejected]
        if name == "jawOpen" and chosen:
            # The jaw target is the wide-open state: the more open half of the open crops.
            order = sorted(chosen, key=lambda i: -expressions.mouth[i])
            chosen = order[: max(1, (len(order) + 1) // 2)]
        if not chosen:
            missing[name] = why[name]
            continue
        offset = np.mean([fit.views[i] - fit.shape for i in chosen], axis=0)
        targets[name] = offset * masks[name][:, None]
        crops[name] = len(chosen)
    return Morphs(targets, crops, missing)
