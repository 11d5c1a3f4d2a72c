"""Overlay of analysed faces on an image: boxes, mesh points, track ids, pose.

Returns a new array and writes nothing; the CLI and the demo decide where it goes.
"""

from __future__ import annotations

import cv2
import numpy as np

from likeness.faces.types import Face, Image

DETECTED = (40, 220, 90)  # RGB: a face detected in this frame
BRIDGED = (250, 170, 30)  # RGB: a face held over by the tracker
POINTS = (90, 200, 255)
# a track's colour cycles through these so neighbouring ids differ
TRACK_COLOURS = ((40, 220, 90), (230, 80, 80), (80, 140, 250), (240, 200, 40), (200, 90, 230), (60, 220, 220))


def face_colour(face: Face) -> tuple[int, int, int]:
    if face.bridged:
        return BRIDGED
    if face.track is None:
        return DETECTED
    return TRACK_COLOURS[(face.track - 1) % len(TRACK_COLOURS)]


def draw_faces(image: Image, faces: list[Face], *, landmarks: bool = True) -> Image:
    """A copy of ``image`` with each face's box, mesh points, ``#track`` and yaw/pitch/roll."""
    canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
    thick = max(1, round(max(canvas.shape[:2]) / 600))
    for face in faces:
        x, y, w, h = (int(v) for v in face.box)
        colour = face_colour(face)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thick, cv2.LINE_AA)
        if landmarks:
            step = 1 if w >= 120 else 3  # small faces: fewer points, or they become a blob
            radius = max(1, round(w / 250))
            for px, py in face.landmarks[::step, :2]:
                cv2.circle(canvas, (int(round(px)), int(round(py))), radius, POINTS, -1, cv2.LINE_AA)
        label = f"#{face.track} " if face.track is not None else ""
        label += f"y{face.pose.yaw:+.0f} p{face.pose.pitch:+.0f} r{face.pose.roll:+.0f}"
        if face.bridged:
            label += " (held)"
        scale = max(0.35, min(1.2, w / 250))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        top = y - th - base - 2 if y - th - base - 2 > 0 else y + h + 2
        cv2.rectangle(canvas, (x, top), (x + tw + 2, top + th + base + 2), colour, -1)
        cv2.putText(canvas, label, (x + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return canvas
