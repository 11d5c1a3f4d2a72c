"""Plain-data description of analysed faces: what ``likeness faces --json`` prints."""

from __future__ import annotations

from dataclasses import asdict

from likeness.faces.types import Face


def face_record(face: Face, *, video: bool) -> dict:
    """One face as JSON-ready data: box, track (video only), pose, quality."""
    record: dict = {"box": [int(v) for v in face.box]}
    if video:
        record["track"] = int(face.track) if face.track is not None else None
    record["pose"] = {k: float(v) for k, v in asdict(face.pose).items()}
    record["quality"] = None if face.quality is None else {k: float(v) for k, v in asdict(face.quality).items()}
    return record


def frame_record(index: int, time: float, faces: list[Face], *, video: bool) -> dict:
    """One image or frame: index, time in seconds, faces."""
    return {"index": int(index), "time": round(float(time), 6), "faces": [face_record(f, video=video) for f in faces]}
