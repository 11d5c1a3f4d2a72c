"""What the render pipeline calls: mark each frame, then seal the encoded file.

The pipeline owns the order (watermark every frame, encode, seal, rename); these two functions
own what "marked" and "sealed" mean, so no caller can pick a weaker mix.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from likeness.faces.types import Image
from likeness.tagging.content_credentials import sign, sign_sidecar
from likeness.tagging.visible_label import Box, LabelSchedule, visible_label
from likeness.tagging.watermark import PUBLIC_KEY, Watermarker
from likeness.tagging.xmp import add_xmp_label


def mark_frame(
    image: Image,
    *,
    render_id: int,
    face_boxes: Sequence[Box] = (),
    visible: bool = False,
    time: float = 0.0,
    schedule: LabelSchedule = LabelSchedule(),
    marker: Watermarker | None = None,
) -> Image:
    """Watermark ``image`` with ``render_id`` (public key); add the visible label when asked.

    The label goes on first, so the watermark covers the label plate too. ``marker`` lets a
    caller reuse one Watermarker (its layout) across the frames of a video.
    """
    if visible and schedule.visible_at(time):
        image = visible_label(image, face_boxes)
    return (marker or Watermarker(PUBLIC_KEY)).embed(image, render_id)


def seal(
    path_in: str | Path,
    path_out: str | Path,
    *,
    render_id: int,
    chain_pem: bytes,
    key_pem: bytes,
    consent: dict[str, Any],
    workdir: str | Path | None = None,
) -> None:
    """Write ``path_out``: ``path_in`` with the XMP label (images) and a signed C2PA manifest.

    ``workdir``: where the staged copy lives (the render's own hidden folder); default beside ``path_out``.
    """
    path_in, path_out = Path(path_in), Path(path_out)
    # XMP goes in first so the C2PA hard binding covers it; the copy holds only marked pixels.
    with tempfile.TemporaryDirectory(dir=workdir or path_out.parent, prefix=".likeness-seal-") as tmp:
        staged = Path(tmp) / f"staged{path_in.suffix.lower()}"
        shutil.copyfile(path_in, staged)
        add_xmp_label(staged)
        sign(staged, path_out, chain_pem=chain_pem, key_pem=key_pem, render_id=render_id, consent=consent)


def seal_sidecar(
    path: str | Path,
    sidecar: str | Path,
    *,
    title: str,
    render_id: int,
    chain_pem: bytes,
    key_pem: bytes,
    consent: dict[str, Any],
) -> None:
    """Write ``sidecar``: the signed C2PA manifest of ``path`` (a GLB, which the SDK cannot embed in), bound to its bytes.

    ``title``: the file name the output will have. No XMP: the format carries its label itself.
    """
    sign_sidecar(path, sidecar, title=title, chain_pem=chain_pem, key_pem=key_pem, render_id=render_id, consent=consent)
