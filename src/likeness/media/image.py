"""Still images in and out: every supported file becomes upright RGB uint8.

Pillow reads the header first, so a file that claims a huge size is refused before any pixel is
decoded (the decompression-bomb guard); the limit is an argument, not Pillow's global.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from likeness.media.errors import MediaError
from likeness.media.types import Image

READ_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "TIFF", "BMP"})
WRITE_FORMATS = MappingProxyType({".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"})
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})


def check_file(path: str | Path) -> Path:
    """The path as a Path, or a MediaError saying it is missing, not a file or empty."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: file not found")
    if not path.is_file():
        raise MediaError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty")
    return path


def open_image(path: Path | io.BytesIO, max_pixels: int, *, name: str | None = None) -> PILImage.Image:
    """Open lazily (header only) and refuse unknown kinds and oversized images before decoding.

    ``path`` may be encoded bytes in memory; ``name`` then says what they are in messages.
    """
    label = name if name is not None else path
    try:
        with warnings.catch_warnings():
            # Our own max_pixels decides; Pillow's global warning threshold does not.
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            im = PILImage.open(path)
    except PILImage.DecompressionBombError as exc:
        raise MediaError(f"{label}: image too large to decode safely ({exc})") from None
    except UnidentifiedImageError:
        raise MediaError(f"{label}: not an image file PNG, JPEG or WebP can read") from None
    except OSError as exc:
        raise MediaError(f"{label}: cannot read image ({exc})") from None
    if im.format not in READ_FORMATS:
        fmt = im.format
        im.close()
        raise MediaError(f"{label}: unsupported image type {fmt} (use PNG, JPEG or WebP)")
    width, height = im.size
    if width * height > max_pixels or width <= 0 or height <= 0:
        im.close()
        raise MediaError(
            f"{label}: image of {width}x{height} pixels exceeds the limit of {max_pixels} "
            "(possible decompression bomb)"
        )
    return im


def to_rgb8(im: PILImage.Image) -> Image:
    """RGB uint8 from any Pillow mode: 16-bit scaled, grey expanded, alpha over white."""
    if im.mode in SIXTEEN_BIT_MODES:
        wide = np.asarray(im).astype(np.int64)
        if im.mode == "I" and wide.max(initial=0) <= 255:
            grey = np.clip(wide, 0, 255).astype(np.uint8)
        else:
            grey = np.clip((wide * 255 + 32767) // 65535, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode == "F":
        grey = np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5
        return np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    )
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        rgb = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def read_image(path: str | Path, *, max_pixels: int = 100_000_000) -> Image:
    """Read a PNG, JPEG or WebP (also TIFF, BMP) as upright RGB uint8 (H, W, 3).

    EXIF orientation is applied, 16-bit samples are scaled to 8 bits, greyscale becomes RGB and
    transparency is composited on white. Anything wrong raises one-line :class:`MediaError`.
    """
    path = check_file(path)
    return _decode(open_image(path, max_pixels), path)


def decode_image(data: bytes, *, name: str, max_pixels: int = 100_000_000) -> Image:
    """Like :func:`read_image` for an image's encoded bytes held in memory (one embedded in another file)."""
    return _decode(open_image(io.BytesIO(data), max_pixels, name=name), name)


def _decode(im: PILImage.Image, label: object) -> Image:
    try:
        with im:
            im.load()
            return to_rgb8(ImageOps.exif_transpose(im))
    except MediaError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"{label}: truncated or corrupt image ({exc})") from None


def encode_png(image: Image) -> bytes:
    """The lossless PNG of an RGB uint8 image, in memory (for an image that goes inside another file)."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise MediaError(f"expected an RGB uint8 image (H, W, 3), got {array.dtype} {array.shape}")
    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(array), "RGB").save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def write_image(path: str | Path, image: Image, *, quality: int = 95) -> None:
    """Write RGB uint8 to .png, .jpg/.jpeg or .webp, chosen by suffix.

    ``quality`` (1-100) applies to JPEG and WebP; PNG is lossless. Not atomic: the render
    pipeline writes to a temporary name and renames.
    """
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"{path}: cannot write images with suffix {path.suffix!r} (use .png, .jpg, .webp)")
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise MediaError(
            f"{path}: expected an RGB uint8 image (H, W, 3), got {array.dtype} {array.shape}"
        )
    options: dict[str, object] = {}
    if fmt == "JPEG":
        options = {"quality": int(quality), "subsampling": 0 if quality >= 90 else 2}
    elif fmt == "WEBP":
        options = {"quality": int(quality), "method": 4}
    else:
        options = {"compress_level": 6}
    try:
        PILImage.fromarray(np.ascontiguousarray(array), "RGB").save(path, fmt, **options)
    except OSError as exc:
        raise MediaError(f"{path}: cannot write image ({exc})") from None
