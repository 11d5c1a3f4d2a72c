"""likeness.avatar: the licensed, tagged, animatable 3D face for games, built from an enrolled faceset.

Arrays in, arrays out (``build_avatar``), and the GLB's bytes (``gltf_bytes``); the export that
asks consent, marks, seals and records it is ``likeness.render.avatar``. Model frame: metres,
X to the subject's left, Y up, the face looking along +Z.
"""

from likeness.avatar.glb import gltf_bytes
from likeness.avatar.model import TEXTURE_SIZES, Avatar, AvatarReport, Part, build_avatar
from likeness.avatar.morphs import MORPH_TARGETS
from likeness.avatar.uv import face_uv

__all__ = ["MORPH_TARGETS", "TEXTURE_SIZES", "Avatar", "AvatarReport", "Part", "build_avatar", "face_uv", "gltf_bytes"]
