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
MAX_TEXTURE_PIXELS = 4096 * 4096  # the largest texture an export writes; a bigger one is not decoded (a decompression bomb)


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
    drawn_elsewhere: tuple[str, ...] = field(default=())  # what the file draws besides its marked texture (images[0])

    @property
    def render_id(self) -> int | None:
        text = (self.extras or {}).get("render_id")
        if not isinstance(text, str) or len(text) != 16 or text.strip("0123456789abcdef"):
            return None
        return int(text, 16)

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
        texture = media.decode_image(data, name="images[0]", max_pixels=MAX_TEXTURE_PIXELS)
    except InputError as exc:
        problems.append(f"the texture could not be read: {exc}")
    return AvatarTags(extras, texture, tuple(problems), tuple(drawn_elsewhere(glb.document)))


def drawn_elsewhere(document: dict[str, Any]) -> list[str]:
    """What a GLB could draw other than its one marked texture: more images, or textures whose
    source is not images[0] (an export holds one image, and every texture draws it). The mark and
    the fingerprint only speak for images[0], so a face drawn from anything else is not theirs."""
    found = []
    images = document.get("images")
    if isinstance(images, list) and len(images) > 1:
        found.append(f"the GLB holds {len(images)} images; a likeness avatar holds one, its marked texture (images[0])")
    textures = document.get("textures")
    for i, texture in enumerate(textures if isinstance(textures, list) else []):
        sources = [texture.get("source")] if isinstance(texture, dict) and "source" in texture else []
        extensions = texture.get("extensions") if isinstance(texture, dict) else None
        for name, extension in (extensions.items() if isinstance(extensions, dict) else ()):
            if isinstance(extension, dict) and "source" in extension:
                sources.append(extension["source"])
        if any(source != 0 or isinstance(source, bool) for source in sources):
            found.append(f"texture {i} draws another image than the marked texture (images[0])")
    return found
