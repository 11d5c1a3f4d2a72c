"""likeness.render: the one pipeline that writes media with a swapped face in it."""

from likeness.render.job import DEFAULT_OPTIONS, FaceSpec, RenderJob, parse_face_spec
from likeness.render.pipeline import FrameSwapper, new_render_id, render
from likeness.render.record import RenderRecord, record_dict

__all__ = [
    "DEFAULT_OPTIONS",
    "FaceSpec",
    "FrameSwapper",
    "RenderJob",
    "RenderRecord",
    "new_render_id",
    "parse_face_spec",
    "record_dict",
    "render",
]
