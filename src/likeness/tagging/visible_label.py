"""The visible "AI-generated" label: legible, at least 5 % of the shorter side high, away from faces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from likeness.faces.types import Image

Box = tuple[int, int, int, int]  # x, y, w, h


@dataclass(frozen=True)
class LabelSchedule:
    """When a video shows the label: the first ``lead`` seconds, then ``show`` seconds every ``every``."""

    lead: float = 2.0
    every: float = 10.0
    show: float = 2.0

    def visible_at(self, time: float) -> bool:
        if time < self.lead:
            return True
        return self.every > 0 and (time - self.lead) % self.every < self.show


def label_box(shape: tuple[int, ...], avoid_boxes: Sequence[Box], text: str = "AI-generated", *, height_share: float = 0.06) -> Box:
    """Where the label goes: the corner (or edge middle) overlapping the faces least."""
    h, w = shape[:2]
    box_h = max(12, int(np.ceil(min(h, w) * height_share)))
    scale, thickness = _font(box_h)
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    box_w = min(w, tw + box_h // 2)
    m = max(2, box_h // 4)
    spots = [
        (m, h - box_h - m), (w - box_w - m, h - box_h - m), (m, m), (w - box_w - m, m),
        ((w - box_w) // 2, h - box_h - m), ((w - box_w) // 2, m),
    ]

    def overlap(x: int, y: int) -> int:
        total = 0
        for fx, fy, fw, fh in avoid_boxes:
            ix = max(0, min(x + box_w, fx + fw) - max(x, fx))
            iy = max(0, min(y + box_h, fy + fh) - max(y, fy))
            total += ix * iy
        return total

    x, y = min(spots, key=lambda s: overlap(max(0, s[0]), max(0, s[1])))
    return max(0, x), max(0, y), box_w, box_h


def _font(box_h: int) -> tuple[float, int]:
    # Hershey simplex cap height is about 22 px at scale 1: text fills ~60 % of the box.
    scale = box_h * 0.6 / 22.0
    return scale, max(1, int(round(scale * 2)))


def visible_label(image: Image, avoid_boxes: Sequence[Box] = (), text: str = "AI-generated", *, height_share: float = 0.06) -> Image:
    """A copy of ``image`` with a white-on-dark ``text`` plate placed away from ``avoid_boxes``."""
    out = image.copy()
    x, y, bw, bh = label_box(image.shape, avoid_boxes, text, height_share=height_share)
    plate = out[y : y + bh, x : x + bw].astype(np.float32)
    out[y : y + bh, x : x + bw] = (plate * 0.35).astype(np.uint8)  # darken: legible on any background
    scale, thickness = _font(bh)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    org = (x + max(0, (bw - tw) // 2), y + (bh + th) // 2)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out
