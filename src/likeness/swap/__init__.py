"""likeness.swap: engines that put an identity's face onto a target face, and compositing.

An engine's ``swap(frame, face)`` returns a :class:`Patch` (the new face in a crop of the frame,
its mask, and the reshaped backdrop); :func:`composite` matches colour and light and blends it
into the frame. Engines are made by name: ``make_engine("retrieval")``.
"""

from likeness.swap.colour import COLOUR_MODES
from likeness.swap.blend import BLEND_MODES
from likeness.swap.composite import TemporalSmoother, composite
from likeness.swap.engine import Engine, Patch, WorkCrop, engine_names, make_engine, register_engine
from likeness.swap.faceset import Faceset, FacesetItem, make_faceset

__all__ = [
    "BLEND_MODES", "COLOUR_MODES", "Engine", "Faceset", "FacesetItem", "Patch",
    "TemporalSmoother", "composite", "engine_names", "make_engine", "make_faceset",
    "WorkCrop", "register_engine",
]
