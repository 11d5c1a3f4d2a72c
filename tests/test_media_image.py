"""Images in and out: real faces, EXIF, alpha, 16-bit, and one clear line for every bad file."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from likeness.errors import InputError
from likeness.media import MediaError, probe, read_image, write_image
from conftest import shared


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_astronaut_png_roundtrip_is_lossless(tmp_path: Path, astronaut: np.ndarray) -> None:
    write_image(tmp_path / "a.png", astronaut)
    back = read_image(tmp_path / "a.png")
    assert back.dtype == np.uint8 and back.shape == astronaut.shape
    assert np.array_equal(back, astronaut)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".webp"])
def test_astronaut_lossy_roundtrip_stays_close(tmp_path: Path, astronaut: np.ndarray, suffix: str) -> None:
    write_image(tmp_path / f"a{suffix}", astronaut, quality=95)
    back = read_image(tmp_path / f"a{suffix}")
    assert back.shape == astronaut.shape
    assert mean_abs_diff(back, astronaut) < 3.0


def test_lower_quality_makes_smaller_jpeg(tmp_path: Path, astronaut: np.ndarray) -> None:
    write_image(tmp_path / "hi.jpg", astronaut, quality=95)
    write_image(tmp_path / "lo.jpg", astronaut, quality=40)
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size


def test_exif_rotated_jpeg_is_read_upright(tmp_path: Path, astronaut: np.ndarray) -> None:
    # Store the portrait turned 90 degrees clockwise with orientation 8 ("rotate 90 CW to view"
    # = the stored pixels need a counter-clockwise turn), as a phone would.
    stored = np.rot90(astronaut[:, :400], k=-1)  # non-square so a wrong turn shows in the shape
    exif = PILImage.Exif()
    exif[0x0112] = 8
    PILImage.fromarray(np.ascontiguousarray(stored)).save(tmp_path / "r.jpg", quality=95, exif=exif)
    back = read_image(tmp_path / "r.jpg")
    assert back.shape == astronaut[:, :400].shape
    assert mean_abs_diff(back, astronaut[:, :400]) < 3.0
    info = probe(tmp_path / "r.jpg")
    assert (info.width, info.height) == (400, 512)


def test_alpha_is_composited_on_white(tmp_path: Path, astronaut: np.ndarray) -> None:
    alpha = np.full(astronaut.shape[:2], 255, np.uint8)
    alpha[:, :100] = 0
    PILImage.fromarray(np.dstack([astronaut, alpha]), "RGBA").save(tmp_path / "a.png")
    back = read_image(tmp_path / "a.png")
    assert back.shape == astronaut.shape
    assert (back[:, :100] == 255).all()
    assert np.array_equal(back[:, 100:], astronaut[:, 100:])


def test_sixteen_bit_grey_is_scaled_to_eight_bits(tmp_path: Path, astronaut: np.ndarray) -> None:
    grey8 = astronaut.mean(axis=2).astype(np.uint8)
    grey16 = grey8.astype(np.uint16) * 257
    PILImage.fromarray(grey16).save(tmp_path / "g16.png")
    back = read_image(tmp_path / "g16.png")
    assert back.shape == astronaut.shape
    assert np.array_equal(back[:, :, 0], grey8) and np.array_equal(back[:, :, 2], grey8)


def test_sixteen_bit_rgb_png_is_scaled(tmp_path: Path, astronaut: np.ndarray) -> None:
    import cv2

    cv2.imwrite(str(tmp_path / "c16.png"), astronaut[:, :, ::-1].astype(np.uint16) * 257)
    assert np.array_equal(read_image(tmp_path / "c16.png"), astronaut)


def test_real_jpeg_face_from_shared_media() -> None:
    image = read_image(shared("syn_SFHQ_pt1_00000161.jpg"))
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert min(image.shape[:2]) > 800


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` and holds one tiny compressed row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4)) + chunk(b"IEND", b"")


def refusal(path: Path, **kwargs) -> str:
    with pytest.raises(MediaError) as info:
        read_image(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert isinstance(info.value, InputError) and info.value.exit_code == 2
    return message


def test_bomb_header_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(50_000, 50_000))
    message = refusal(path)
    assert "large" in message or "exceeds" in message


def test_own_pixel_limit_is_honoured(tmp_path: Path, astronaut: np.ndarray) -> None:
    write_image(tmp_path / "a.png", astronaut)
    assert "exceeds" in refusal(tmp_path / "a.png", max_pixels=512 * 511)


def test_missing_file_is_named(tmp_path: Path) -> None:
    assert "not found" in refusal(tmp_path / "nope.png")


def test_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert "empty" in refusal(tmp_path / "empty.jpg")


def test_truncated_jpeg_is_refused(tmp_path: Path, astronaut: np.ndarray) -> None:
    write_image(tmp_path / "full.jpg", astronaut)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    assert "truncated" in refusal(tmp_path / "cut.jpg")


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not a picture\n")
    assert "not an image" in refusal(tmp_path / "notes.png")


def test_unsupported_image_type_is_named(tmp_path: Path, astronaut: np.ndarray) -> None:
    PILImage.fromarray(astronaut).save(tmp_path / "a.gif")
    assert "GIF" in refusal(tmp_path / "a.gif")


def test_write_refuses_unknown_suffix(tmp_path: Path, astronaut: np.ndarray) -> None:
    with pytest.raises(MediaError, match=r"\.bmp"):
        write_image(tmp_path / "a.bmp", astronaut)


def test_write_refuses_arrays_that_are_not_rgb8(tmp_path: Path, astronaut: np.ndarray) -> None:
    with pytest.raises(MediaError, match="expected an RGB uint8"):
        write_image(tmp_path / "f.png", astronaut.astype(np.float32))
    with pytest.raises(MediaError, match="expected an RGB uint8"):
        write_image(tmp_path / "g.png", astronaut[:, :, 0])


def test_write_into_missing_folder_names_the_file(tmp_path: Path, astronaut: np.ndarray) -> None:
    with pytest.raises(MediaError, match="cannot write image"):
        write_image(tmp_path / "nowhere" / "a.png", astronaut)
