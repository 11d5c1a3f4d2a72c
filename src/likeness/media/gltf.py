"""The binary glTF container (GLB): a 12-byte header, a JSON chunk and a binary chunk.

What it holds (meshes, images) is the writer's business; this module only packs and unpacks
the container and hands out an image's bytes, so ``verify`` can read an avatar without the
package that made it. Reading checks every length before it trusts it (a hostile file gets one
clear error, never a huge allocation).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from likeness.media.errors import MediaError

MAGIC = b"glTF"
VERSION = 2
JSON_CHUNK = 0x4E4F534A  # "JSON"
BIN_CHUNK = 0x004E4942  # "BIN\0"
MAX_BYTES = 512 << 20  # an avatar is a few megabytes; refuse anything absurd before reading it
MAX_JSON_BYTES = 16 << 20  # an avatar's JSON is a few kilobytes; a larger one is not read (a JSON bomb)
MAX_JSON_DEPTH = 64  # glTF nests a handful of levels; deeper documents would overflow whoever walks them (reports, the API)


@dataclass(frozen=True, eq=False)
class Glb:
    document: dict[str, Any]
    binary: bytes

    def buffer_view(self, index: int) -> bytes:
        """The bytes of buffer view ``index`` (of the GLB's own buffer)."""
        views = self.document.get("bufferViews")
        if not isinstance(views, list) or not _is_index(index) or not 0 <= index < len(views) or not isinstance(views[index], dict):
            raise MediaError(f"the glTF names buffer view {index!r}, which it does not have")
        view = views[index]
        start, length, buffer = view.get("byteOffset", 0), view.get("byteLength"), view.get("buffer", 0)
        if not (_is_index(start) and _is_index(length) and _is_index(buffer)):
            raise MediaError(f"the glTF's buffer view {index} has no whole, non-negative offset and length")
        if buffer != 0 or start + length > len(self.binary):
            raise MediaError(f"the glTF's buffer view {index} lies outside its binary chunk")
        return self.binary[start:start + length]

    def image(self, index: int = 0) -> tuple[bytes, str]:
        """The encoded bytes and MIME type of embedded image ``index``."""
        images = self.document.get("images")
        if not isinstance(images, list) or not 0 <= index < len(images) or not isinstance(images[index], dict) \
                or "bufferView" not in images[index]:
            raise MediaError(f"the glTF has no embedded image {index}")
        mime = images[index].get("mimeType", "")
        return self.buffer_view(images[index]["bufferView"]), mime if isinstance(mime, str) else ""


def _is_index(value: Any) -> bool:
    """A glTF index, offset or length: a non-negative whole number (JSON's true is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def pack_glb(document: dict[str, Any], binary: bytes) -> bytes:
    """The GLB of ``document`` with ``binary`` as its buffer 0 (both chunks padded to 4 bytes)."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary = bytes(binary) + b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + (8 + len(binary) if binary else 0)
    out = [struct.pack("<4sII", MAGIC, VERSION, total), struct.pack("<II", len(text), JSON_CHUNK), text]
    if binary:
        out += [struct.pack("<II", len(binary), BIN_CHUNK), binary]
    return b"".join(out)


def is_glb(path: str | Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == MAGIC
    except OSError:
        return False


def read_glb(path: str | Path) -> Glb:
    """The JSON document and binary chunk of a GLB file; MediaError when it is not a sound one."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise MediaError(f"{path}: {size >> 20} MiB is too large for a GLB avatar (limit {MAX_BYTES >> 20} MiB)")
        data = path.read_bytes()
    except OSError as exc:
        raise MediaError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_glb(data, what=str(path))


def parse_glb(data: bytes, *, what: str = "the file") -> Glb:
    if len(data) < 20:
        raise MediaError(f"{what}: not a GLB file (too short)")
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    if magic != MAGIC:
        raise MediaError(f"{what}: not a GLB file")
    if version != VERSION:
        raise MediaError(f"{what}: GLB version {version}; only glTF 2.0 is read")
    if total != len(data):
        raise MediaError(f"{what}: the GLB header says {total} bytes, the file has {len(data)} (truncated or padded)")
    offset, document, binary = 12, None, b""
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from("<II", data, offset)
        start, offset = offset + 8, offset + 8 + length
        if offset > len(data):
            raise MediaError(f"{what}: a GLB chunk runs past the end of the file")
        if kind == JSON_CHUNK and document is None:
            if length > MAX_JSON_BYTES:
                raise MediaError(f"{what}: the GLB's JSON chunk is {length >> 20} MiB (limit {MAX_JSON_BYTES >> 20} MiB)")
            try:
                document = json.loads(data[start:offset].decode("utf-8"))
            except RecursionError:
                raise MediaError(f"{what}: the GLB's JSON chunk is nested too deeply to read") from None
            except (UnicodeDecodeError, ValueError):
                raise MediaError(f"{what}: the GLB's JSON chunk is not JSON") from None
        elif kind == BIN_CHUNK and not binary:
            binary = data[start:offset]
    if not isinstance(document, dict):
        raise MediaError(f"{what}: the GLB has no JSON chunk")
    if _depth(document) > MAX_JSON_DEPTH:
        raise MediaError(f"{what}: the GLB's JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    return Glb(document, binary)


def _depth(document: Any) -> int:
    """How deeply ``document`` nests (without recursion: the point is a document too deep for it)."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
