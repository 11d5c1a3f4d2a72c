"""What an avatar (a GLB) says about itself: the ``asset.extras`` it carries, its texture, its sidecar manifest.

The extras are written by the export and read back by ``verify``; they live under
``asset.extras.likeness`` so that other tools' extras do not collide with them:

    label            "AI-generated likeness"
    render_id        16 hex digits, the id the texture's watermark and the manifest carry
    grant_id, scope  the grant the export was made under, and its use ("game")
    identity         whose likeness it is (as the talent-signed grant names it)
    visible_label    {"required": bool, "text": ..., "request": ...}: the grant's wish that a visible
                     label be shown wherever the face is on screen; game integrations are asked to honour it
    consent          the consent proof, the same assertion the C2PA manifest carries (talent-signed
                     grant, the export's number under it, time, signed audit head)
    content_credentials  the sidecar manifest's file name (the SDK cannot embed C2PA in a GLB)
    watermark        where the invisible mark is: the texture (images[0])
    units, interocular_m, uv_layout, morph_targets   what a game needs to place and drive the face

Extras are not signed by themselves: the sidecar manifest binds every byte of the file, extras
included, so an edited extras field, like a replaced texture, fails ``verify``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from likeness.errors import InputError
from likeness.faces.types import Image

EXTRAS_KEY = "likeness"
LABEL = "AI-generated likeness"
VISIBLE_TEXT = "AI-generated likeness"
VISIBLE_REQUEST = ("the talent's grant asks that this label be shown, readable, wherever this face is on screen; "
                   "game integrations are asked to honour it")
UV_LAYOUT = "likeness.face-atlas/1"


def avatar_extras(*, render_id: int, grant_id: str, scope: str, identity: str, visible_label: bool,
                  consent: dict[str, Any], sidecar: str, details: dict[str, Any]) -> dict[str, Any]:
    """The ``asset.extras`` of an exported avatar (see the module docstring)."""
    return {
        EXTRAS_KEY: {
            "label": LABEL,
            "render_id": f"{int(render_id):016x}",
            "grant_id": str(grant_id),
            "scope": scope,
            "identity": identity,
            "visible_label": {"required": bool(visible_label), "text": VISIBLE_TEXT, "request": VISIBLE_REQUEST},
            "consent": consent,
            "content_credentials": sidecar,
            "watermark": {"image": 0, "key": "public"},
            "uv_layout": UV_LAYOUT,
            **details,
        }
    }


@dataclass(frozen=True, eq=False)
class AvatarTags:
    """What ``read_avatar`` found; ``problems`` says what could not be read."""

    extras: dict[str, Any] | None
    texture: Image | None
    problems: tuple[str, ...] = field(default=())

    @property
    def render_id(self) -> int | None:
        try:
            return int(str((self.extras or {}).get("render_id")), 16)
        except ValueError:
            return None

    def summary(self) -> dict[str, Any] | None:
        """The extras as ``verify --json`` shows them (the consent proof is reported on its own)."""
        if self.extras is None:
            return None
        return {k: v for k, v in self.extras.items() if k != "consent"}


def read_avatar(path: Path) -> AvatarTags:
    """The likeness extras and the decoded texture of a GLB; InputError when it is no GLB at all."""
    from likeness import media
    from likeness.media.gltf import read_glb

    glb = read_glb(path)  # MediaError (an InputError) for a broken container
    problems: list[str] = []
    asset = glb.document.get("asset") if isinstance(glb.document.get("asset"), dict) else {}
    extras = (asset.get("extras") or {}).get(EXTRAS_KEY) if isinstance(asset.get("extras"), dict) else None
    if not isinstance(extras, dict):
        extras = None
        problems.append("the GLB carries no likeness extras (asset.extras.likeness)")
    texture = None
    try:
        data, mime = glb.image(0)
        if mime not in ("image/png", "image/jpeg"):
            raise InputError(f"its texture is {mime or 'of no stated type'}")
        texture = media.decode_image(data, name=f"{path} (texture)")
    except InputError as exc:
        problems.append(f"the texture could not be read: {exc}")
    return AvatarTags(extras, texture, tuple(problems))
