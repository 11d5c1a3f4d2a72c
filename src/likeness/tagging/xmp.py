"""The IPTC digital-source-type label in XMP, written into the file without re-encoding pixels.

Written before C2PA signing, so the signature's hard binding covers it. JPEG gets an APP1 XMP
segment, PNG an iTXt ``XML:com.adobe.xmp`` chunk, WebP an ``XMP `` chunk (extended format). For
MP4/MOV the C2PA manifest carries the same digital source type; no XMP box is written.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from likeness.errors import InputError
from likeness.tagging.content_credentials import COMPOSITE_SOURCE

XMP_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
XMP_SCAN_BYTES = 16 << 20
_XMP_NS = b"http://ns.adobe.com/xap/1.0/\x00"


def xmp_packet(source_type: str = COMPOSITE_SOURCE) -> bytes:
    """A minimal XMP packet stating the IPTC digital source type."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f"<Iptc4xmpExt:DigitalSourceType>{source_type}</Iptc4xmpExt:DigitalSourceType>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode("utf-8")


def add_xmp_label(path: str | Path, source_type: str = COMPOSITE_SOURCE) -> bool:
    """Add the label in place; False for containers that get it only through C2PA (video)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in XMP_SUFFIXES:
        return False
    data = path.read_bytes()
    packet = xmp_packet(source_type)
    try:
        if suffix in (".jpg", ".jpeg"):
            out = _jpeg_with(data, packet)
        elif suffix == ".png":
            out = _png_with(data, packet)
        else:
            out = _webp_with(data, packet)
    except (ValueError, struct.error) as exc:
        raise InputError(f"{path}: cannot add the XMP label: {exc}") from exc
    path.write_bytes(out)
    return True


def read_xmp_label(path: str | Path) -> str | None:
    """The Iptc4xmpExt:DigitalSourceType found in the file's XMP, if any.

    Only the first ``XMP_SCAN_BYTES`` are read: the label is written near the start (before the
    image data), and a huge file must not be read into memory whole.
    """
    with open(path, "rb") as handle:
        data = handle.read(XMP_SCAN_BYTES)
    match = re.search(rb"Iptc4xmpExt:DigitalSourceType(?:>|=\")\s*([^<\"]+)", data)
    return match.group(1).decode("utf-8", "replace").strip() if match else None


def _jpeg_with(data: bytes, packet: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    segment = _XMP_NS + packet
    if len(segment) + 2 > 0xFFFF:
        raise ValueError("XMP packet too large")
    app1 = b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment
    pos = 2
    # After JFIF/EXIF APPn segments, so readers that expect them first still find them.
    while data[pos] == 0xFF and data[pos + 1] in (0xE0, 0xE1):
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return data[:pos] + app1 + data[pos:]


def _png_with(data: bytes, packet: bytes) -> bytes:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    body = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body) & 0xFFFFFFFF)
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            return data[:pos] + chunk + data[pos:]
        pos += 12 + length
    raise ValueError("PNG without image data")


def _webp_with(data: bytes, packet: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    chunks = []
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    kinds = [k for k, _ in chunks]
    if b"VP8X" not in kinds:
        width, height = _webp_size(chunks)
        flags = 0x10 if b"ALPH" in kinds else 0
        vp8x = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", vp8x))
    head, payload = chunks[0]
    chunks[0] = (head, bytes([payload[0] | 0x04]) + payload[1:])
    chunks = [(k, v) for k, v in chunks if k != b"XMP "] + [(b"XMP ", packet)]
    body = b"".join(k + struct.pack("<I", len(v)) + v + (b"\x00" if len(v) & 1 else b"") for k, v in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _webp_size(chunks: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    for kind, payload in chunks:
        if kind == b"VP8 ":
            w, h = struct.unpack("<HH", payload[6:10])
            return w & 0x3FFF, h & 0x3FFF
        if kind == b"VP8L":
            bits = int.from_bytes(payload[1:5], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise ValueError("WebP without a VP8/VP8L bitstream")
