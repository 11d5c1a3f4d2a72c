"""A side-by-side report of a render (target | output), as a PNG and a small HTML page.

It lives in the pipeline package because the PNG shows the swapped face: like every output it
is watermarked with the render id, so a copy of the report is traceable too.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from likeness import media, tagging
from likeness.faces.types import Image

PANEL_HEIGHT = 360


def _sample_frames(path: Path, count: int) -> list[tuple[float, Image]]:
    """Up to ``count`` frames spread over the file (an image is one)."""
    info = media.probe(path)
    if info.kind == "image":
        return [(0.0, media.read_image(path))]
    total = max(info.frame_count, 1)
    wanted = sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(count)})
    return [(f.time, f.image) for f in media.read_frames(path) if f.index in wanted]


def _panel(image: Image, label: str) -> Image:
    height, width = image.shape[:2]
    scale = PANEL_HEIGHT / height
    panel = cv2.resize(image, (max(1, round(width * scale)), PANEL_HEIGHT), interpolation=cv2.INTER_AREA)
    cv2.putText(panel, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(panel, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def side_by_side(target: Path, output: Path, *, frames: int = 3) -> Image:
    """Rows of target | output at the same moments."""
    rows = []
    for (time_a, a), (_, b) in zip(_sample_frames(target, frames), _sample_frames(output, frames)):
        stamp = f" t={time_a:.2f}s" if time_a else ""
        left, right = _panel(a, f"target{stamp}"), _panel(b, f"output{stamp}")
        rows.append(np.concatenate([left, np.full((PANEL_HEIGHT, 8, 3), 255, np.uint8), right], axis=1))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 8), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def write_report(
    folder: Path,
    *,
    name: str,
    target: Path,
    output: Path,
    record: Mapping[str, Any],
    verdict: Mapping[str, Any] | None = None,
    notes: str = "",
) -> tuple[Path, Path]:
    """Write ``<name>.png`` (watermarked with the render id) and ``<name>.html``; return both paths."""
    folder = Path(folder)
    image = side_by_side(Path(target), Path(output))
    render_id = record["render_id"]  # 16 hex digits, as record_dict writes it
    image = tagging.mark_frame(image, render_id=int(render_id, 16) if isinstance(render_id, str) else int(render_id),
                               face_boxes=[], visible=True, time=0.0)
    png = folder / f"{name}.png"
    media.write_image(png, image)
    page = folder / f"{name}.html"
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v, default=str))}</td></tr>" for k, v in record.items()
    )
    verdict_html = (
        f"<h2>likeness verify</h2><pre>{html.escape(json.dumps(verdict, indent=2, default=str))}</pre>" if verdict else ""
    )
    page.write_text(
        "<!doctype html><meta charset='utf-8'><title>likeness render "
        f"{record['render_id']}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}"
        "img{max-width:100%}th{text-align:left;padding-right:1em}</style>"
        f"<h1>{html.escape(name)}</h1><p>{html.escape(str(target))} &rarr; {html.escape(str(output))}</p>"
        f"<img src='{png.name}' alt='target and output side by side'>"
        f"<h2>render record</h2><table>{rows}</table>{verdict_html}<p>{html.escape(notes)}</p>",
        encoding="utf-8",
    )
    return png, page
