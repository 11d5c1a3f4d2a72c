"""The avatar as one binary glTF 2.0 file: three nodes (face, left eye, right eye), one texture, morph targets.

Written by hand (json and struct): the format is small and this keeps a dependency out.
Positions are metres, +Y up, the face looking along +Z (glTF's front); the root node holds
nothing but the three parts. Morph target names are in ``mesh.extras.targetNames``, where
three.js, Babylon.js, Blender and Unity's glTF importers read them. Each eye node is centred
on its eyeball, so turning the node turns the eye.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from likeness.avatar.model import Avatar, Part
from likeness.faces.types import Image
from likeness.media.gltf import pack_glb
from likeness.media.image import encode_png

FLOAT, UINT16, UINT32 = 5126, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
LINEAR, LINEAR_MIPMAP_LINEAR, CLAMP_TO_EDGE = 9729, 9987, 33071
MATERIALS = {
    "skin": {"name": "skin", "doubleSided": True,  # the back of the mask shows its inside, not nothing
             "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0.0, "roughnessFactor": 0.75}},
    "eye": {"name": "eye", "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0.0, "roughnessFactor": 0.3}},
}


def vertex_normals(positions: NDArray[np.float32], triangles: NDArray[np.uint32]) -> NDArray[np.float32]:
    """Unit, area-weighted normals; a point no triangle uses gets +Z."""
    p = positions.astype(np.float64)
    t = triangles.astype(np.int64)
    face = np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]])
    normals = np.zeros_like(p)
    for k in range(3):
        np.add.at(normals, t[:, k], face)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(length > 1e-12, normals / np.maximum(length, 1e-12), np.array([0.0, 0.0, 1.0]))
    return normals.astype(np.float32)


class _Buffer:
    """The binary chunk being filled, with its buffer views and accessors."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def view(self, payload: bytes, target: int | None = None) -> int:
        self.data += b"\0" * (-len(self.data) % 4)
        entry: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(payload)}
        if target is not None:
            entry["target"] = target
        self.data += payload
        self.views.append(entry)
        return len(self.views) - 1

    def accessor(self, array: np.ndarray, kind: str, *, target: int | None = ARRAY_BUFFER, bounds: bool = False) -> int:
        component = {np.dtype(np.float32): FLOAT, np.dtype(np.uint16): UINT16, np.dtype(np.uint32): UINT32}[array.dtype]
        flat = np.ascontiguousarray(array)
        entry: dict[str, Any] = {
            "bufferView": self.view(flat.tobytes(), target),
            "componentType": component,
            "count": int(flat.shape[0]) if kind != "SCALAR" else int(flat.size),
            "type": kind,
        }
        if bounds:
            entry["min"] = [float(v) for v in flat.min(axis=0)]
            entry["max"] = [float(v) for v in flat.max(axis=0)]
        self.accessors.append(entry)
        return len(self.accessors) - 1


def _primitive(buffer: _Buffer, part: Part, material: int, target_names: list[str]) -> dict[str, Any]:
    positions = np.asarray(part.positions, np.float32)
    indices = np.asarray(part.triangles, np.uint32).reshape(-1)
    if len(positions) < 65536:
        indices = indices.astype(np.uint16)
    primitive: dict[str, Any] = {
        "attributes": {
            "POSITION": buffer.accessor(positions, "VEC3", bounds=True),
            "NORMAL": buffer.accessor(vertex_normals(positions, part.triangles), "VEC3"),
            "TEXCOORD_0": buffer.accessor(np.asarray(part.uv, np.float32), "VEC2"),
        },
        "indices": buffer.accessor(indices, "SCALAR", target=ELEMENT_ARRAY_BUFFER),
        "material": material,
        "mode": 4,
    }
    if target_names:
        primitive["targets"] = [{"POSITION": buffer.accessor(np.asarray(part.targets[name], np.float32), "VEC3", bounds=True)}
                                for name in target_names]
    return primitive


def gltf_bytes(avatar: Avatar, texture: Image, extras: dict[str, Any], *, generator: str) -> bytes:
    """The GLB of ``avatar`` with ``texture`` (its atlas as marked; stored as PNG) and ``extras`` under ``asset.extras``."""
    buffer = _Buffer()
    material_names = sorted({part.material for part in avatar.parts}, key=list(MATERIALS).index)
    meshes, nodes = [], []
    for part in avatar.parts:
        names = [name for name in part.targets]
        mesh: dict[str, Any] = {"name": part.name, "primitives": [_primitive(buffer, part, material_names.index(part.material), names)]}
        if names:
            mesh["weights"] = [0.0] * len(names)
            mesh["extras"] = {"targetNames": names}
        meshes.append(mesh)
        node: dict[str, Any] = {"name": part.name, "mesh": len(meshes) - 1}
        if any(part.translation):
            node["translation"] = [float(v) for v in part.translation]
        if part.name.startswith("eye_"):
            node["extras"] = {"pivot": "the eyeball's centre: rotate this node to turn the eye"}
        nodes.append(node)
    image_view = buffer.view(encode_png(texture))
    nodes.append({"name": "likeness_avatar", "children": list(range(len(nodes)))})
    document: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": generator, "extras": extras},
        "scene": 0,
        "scenes": [{"name": "likeness avatar", "nodes": [len(nodes) - 1]}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": [MATERIALS[name] for name in material_names],
        "textures": [{"sampler": 0, "source": 0}],
        "samplers": [{"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR, "wrapS": CLAMP_TO_EDGE, "wrapT": CLAMP_TO_EDGE}],
        "images": [{"bufferView": image_view, "mimeType": "image/png", "name": "face atlas"}],
        "accessors": buffer.accessors,
        "bufferViews": buffer.views,
        "buffers": [{"byteLength": len(buffer.data) + (-len(buffer.data) % 4)}],
    }
    return pack_glb(document, bytes(buffer.data))
