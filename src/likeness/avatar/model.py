"""From a faceset to an avatar: the fitted face, its eyes and mouth, the baked texture and the morph targets.

Array in, arrays out: nothing here writes a file or asks for consent. ``render.avatar`` is what
authorises the export, marks the texture, writes the GLB and records it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from likeness.avatar import uv as layout
from likeness.avatar.bake import bake
from likeness.avatar.eyes import EYEBALL_RADIUS_M, eye_colours, eyeball, iris_share, paint_eye, socket
from likeness.avatar.fit import fit_views
from likeness.avatar.morphs import MORPH_TARGETS, measure, morph_targets
from likeness.avatar.mouth import cavity, paint_mouth
from likeness.avatar.topology import SURFACE_POINTS, topology
from likeness.errors import InputError
from likeness.faces.types import Faceset, Image

TEXTURE_SIZES = (1024, 2048, 4096)
BAKE_LIMIT = 2048  # a crop is 512 px: past 2048 texels a texture holds no more of the face, so it is baked here and enlarged
BAKE_VIEWS = 24  # crops baked at most (the sharpest, spread over the poses)


@dataclass(frozen=True, eq=False)
class Part:
    """One mesh of the avatar (a glTF node with one primitive): positions in metres in the node's frame."""

    name: str
    positions: NDArray[np.float32]
    uv: NDArray[np.float32]
    triangles: NDArray[np.uint32]
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    targets: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    material: str = "skin"


@dataclass(frozen=True)
class AvatarReport:
    """What went into the avatar and what could not."""

    crops: int
    crops_used: int  # averaged into the rest shape
    crops_rejected: int  # dropped from the fit as outliers
    rest_from_neutral: bool  # False: no crop was at rest, the shape is the mean of all
    fit_residual_mm: float
    texture: int
    baked_at: int
    seen: float  # share of the face island some crop sees squarely
    filled: float  # share filled (mirror + smooth fill)
    mirrored: float
    extrapolated: float
    eyes: dict[str, str]  # per eye: where its iris came from
    vertices: int
    triangles: int
    morph_targets: tuple[str, ...]
    morph_crops: dict[str, int]
    morph_missing: dict[str, str]
    interocular_m: float
    units: str = "metres"

    def as_dict(self) -> dict:
        data = asdict(self)
        data["morph_targets"] = list(self.morph_targets)
        return data


@dataclass(frozen=True, eq=False)
class Avatar:
    parts: tuple[Part, ...]
    texture: Image
    report: AvatarReport


def _bake_views(faceset: Faceset, usable: list[int]) -> list[int]:
    """The crops to bake: all when few, else the sharpest of each pose bin (so the sides get their views)."""
    if len(usable) <= BAKE_VIEWS:
        return usable
    items = faceset.items

    def sharp(i: int) -> float:
        q = items[i].quality
        return q.sharpness if q is not None else 0.0

    bins: dict[tuple[int, int], list[int]] = {}
    for i in usable:
        key = (round(items[i].pose.yaw / 15), round(items[i].pose.pitch / 15))
        bins.setdefault(key, []).append(i)
    chosen: list[int] = []
    ranked = [sorted(members, key=sharp, reverse=True) for members in bins.values()]
    while len(chosen) < BAKE_VIEWS and any(ranked):
        for members in ranked:
            if members and len(chosen) < BAKE_VIEWS:
                chosen.append(members.pop(0))
    return sorted(chosen)


def build_avatar(faceset: Faceset, *, texture: int = 2048, expressions: bool = False) -> Avatar:
    """The avatar of ``faceset`` (decrypted, in memory) with a ``texture`` x ``texture`` atlas."""
    if texture not in TEXTURE_SIZES:
        raise InputError(f"--texture {texture}: use one of {', '.join(map(str, TEXTURE_SIZES))}")
    items = faceset.items
    if not items:
        raise InputError(f"identity {faceset.identity!r} has no crops to build an avatar from")
    landmarks = [item.landmarks for item in items]
    first = measure(items)
    rest = first.at_rest()
    fit = fit_views(landmarks, base=rest or None)
    found = measure(items, fit)
    calm = [i for i in found.at_rest() if i in rest]
    if calm and calm != rest:  # a smile or raised brows among the first rest crops: fit again without them
        rest = calm
        fit = fit_views(landmarks, base=rest)
        found = measure(items, fit)
    topo = topology()
    shape = fit.shape

    usable = [i for i in range(len(items)) if i not in set(fit.rejected)]
    baked_at = min(texture, BAKE_LIMIT)
    chosen = _bake_views(faceset, usable)
    expressive = set(found.expressive())
    baked = bake([items[i] for i in chosen], baked_at, expressive=[k for k, i in enumerate(chosen) if i in expressive])
    atlas = baked.image.copy()

    eyes, eye_notes = {}, {}
    for side, square in (("left", layout.LEFT_EYE), ("right", layout.RIGHT_EYE)):
        ball = eyeball(shape, topo, side, square)
        eyes[side] = ball
        colours = eye_colours([items[i] for i in usable], topo, side)
        if colours is None:
            colours = _fallback_eye()
            eye_notes[side] = "no crop shows this eye open and frontal: a generic brown iris"
        else:
            eye_notes[side] = f"from {colours.crops} crop(s), {colours.seen:.0%} of the iris seen (the rest from the same radius)"
        paint_eye(atlas, square, colours, iris_share(ball))
    pockets = [cavity(shape, topo, layout.MOUTH)]
    for side, square in (("left", layout.LEFT_EYE), ("right", layout.RIGHT_EYE)):
        pockets.append(socket(shape, topo, eyes[side], square, SURFACE_POINTS + sum(len(p.positions) for p in pockets)))
    paint_mouth(atlas, layout.MOUTH, _inner_lip_colour(baked.image, topo))
    if texture > baked_at:
        atlas = cv2.resize(atlas, (texture, texture), interpolation=cv2.INTER_LANCZOS4)

    morphs = morph_targets(fit, found) if expressions else None
    face_positions = np.concatenate([shape[:SURFACE_POINTS]] + [p.positions for p in pockets])
    face_uv = np.concatenate([layout.face_uv()] + [p.uv for p in pockets])
    face_triangles = np.concatenate([topo.triangles] + [p.triangles for p in pockets])
    targets: dict[str, NDArray[np.float32]] = {}
    if morphs is not None:
        for name in MORPH_TARGETS:
            if name in morphs.targets:
                surface = morphs.targets[name][:SURFACE_POINTS]
                targets[name] = np.concatenate([surface] + [p.moved(surface) for p in pockets]).astype(np.float32)
    parts = [Part("face", face_positions.astype(np.float32), face_uv.astype(np.float32), face_triangles.astype(np.uint32), targets=targets)]
    for side in ("left", "right"):
        ball = eyes[side]
        parts.append(Part(f"eye_{side}", ball.positions.astype(np.float32), ball.uv.astype(np.float32), ball.triangles.astype(np.uint32),
                          translation=tuple(float(v) for v in ball.centre), material="eye"))
    report = AvatarReport(
        crops=len(items),
        crops_used=len(fit.used),
        crops_rejected=len(fit.rejected),
        rest_from_neutral=bool(rest),
        fit_residual_mm=round(fit.residual_m * 1000, 2),
        texture=texture,
        baked_at=baked_at,
        seen=round(1.0 - baked.filled, 4),
        filled=baked.filled,
        mirrored=baked.mirrored,
        extrapolated=baked.extrapolated,
        eyes=eye_notes,
        vertices=sum(len(p.positions) for p in parts),
        triangles=sum(len(p.triangles) for p in parts),
        morph_targets=tuple(targets),
        morph_crops=dict(morphs.crops) if morphs else {},
        morph_missing=dict(morphs.missing) if morphs else {},
        interocular_m=round(float(np.linalg.norm(eyes["left"].centre - eyes["right"].centre)), 4),
    )
    return Avatar(tuple(parts), atlas, report)


def _fallback_eye():  # noqa: ANN202 - an EyeColours
    from likeness.avatar.eyes import ANGLES, RADII, EyeColours

    radius = (np.arange(RADII) + 0.5) / RADII
    brown = np.array([0.36, 0.24, 0.16]) * (0.7 + 0.3 * radius)[:, None]
    iris = np.where(radius[:, None] < 0.35, np.array([0.05, 0.04, 0.04]), brown)
    return EyeColours(np.repeat(iris[:, None, :], ANGLES, axis=1).astype(np.float32), np.array([0.86, 0.83, 0.8], np.float32), 0.0, 0)


def _inner_lip_colour(texture: Image, topo) -> NDArray[np.float32]:  # noqa: ANN001
    """The mean colour of the texture at the inner lip rim."""
    size = texture.shape[0]
    at = layout.face_uv()[list(topo.lips)] * size
    cols = np.clip(at[:, 0].astype(int), 0, size - 1)
    rows = np.clip(at[:, 1].astype(int), 0, size - 1)
    return (texture[rows, cols].astype(np.float32) / 255).mean(0)


__all__ = ["Avatar", "AvatarReport", "EYEBALL_RADIUS_M", "Part", "TEXTURE_SIZES", "build_avatar"]
