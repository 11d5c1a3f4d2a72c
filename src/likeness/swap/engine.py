"""The engine protocol, the patch an engine returns, and the registry of engines by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from likeness.errors import InputError
from likeness.faces.types import Face, Image

Mask = NDArray[np.float32]  # HxW in [0, 1]


@dataclass(frozen=True, eq=False)
class WorkCrop:
    """A patch's crop at working resolution: ``scale`` (x, y) working pixels per frame pixel."""

    image: Image
    mask: Mask
    backdrop: Image
    scale: tuple[float, float]

    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape[0], self.mask.shape[1]


@dataclass(frozen=True, eq=False)
class Patch:
    """A swapped face confined to a crop of the frame, so that 720p stays real time.

    ``image`` is the new face (source texture, not yet colour-matched) over the crop whose top
    left corner is ``(x, y)`` in the frame; ``mask`` says where it replaces the frame (feathered,
    float32). ``backdrop``, when given, is the frame's crop with the target's own surroundings
    reshaped to the new face outline (and interiors kept from the target); pixels of it outside
    the reshaped band equal the frame exactly. ``support`` marks every crop pixel the composite
    may change.

    ``work``, when given, is the same patch at a bounded working resolution, where the composite
    does its colour matching and blending (a 700 px face costs what a 300 px one does); the
    full-size fields are then its upsampling. ``upscale`` > 1 says the face's real detail
    (source crop or working size) is that many times smaller than the face in the frame: the
    new face is softer than the frame around it. ``coverage`` is the share of the target's
    visible face that the faceset has a view of (below 1 the swap faded to the target's own skin
    there: the faceset lacks that pose).
    """

    image: Image
    mask: Mask
    x: int
    y: int
    backdrop: Image | None = None
    support: NDArray[np.bool_] | None = None
    work: WorkCrop | None = None
    upscale: float = 1.0
    coverage: float = 1.0

    @property
    def box(self) -> tuple[int, int, int, int]:
        """x, y, w, h of the crop in the frame."""
        return self.x, self.y, self.image.shape[1], self.image.shape[0]

    def full_mask(self, frame_shape: tuple[int, ...]) -> Mask:
        """The mask over a whole frame (for tests and reports; the pipeline stays in the crop)."""
        out = np.zeros(frame_shape[:2], np.float32)
        h, w = self.mask.shape
        out[self.y:self.y + h, self.x:self.x + w] = self.mask
        return out


@runtime_checkable
class Engine(Protocol):
    """Puts the prepared identity's face onto a face of a frame; never writes files.

    An engine that holds native models may also have ``close()``: the render calls it on an
    engine it made, a caller that passes its own engine closes it itself.
    """

    name: str

    def prepare(self, faceset: Any) -> None:
        """Index or load whatever the engine needs from a faceset (items of FacesetItem)."""

    def swap(self, frame: Image, face: Face) -> Patch:
        """The new face for ``face`` in ``frame``, as a crop with its mask."""


EngineFactory = Callable[..., Engine]

# Engines register themselves by name (a plugin table, not cached state): built-ins below,
# others through register_engine or by a module named likeness.swap.<name>.
_FACTORIES: dict[str, EngineFactory] = {}
_LAZY = {"retrieval": "likeness.swap.retrieval", "onnx": "likeness.swap.onnx_engine",
         "autoencoder": "likeness.swap.autoencoder"}


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make ``make_engine(name, **options)`` call ``factory(**options)``."""
    _FACTORIES[name] = factory


def engine_names() -> list[str]:
    """Every engine name that can be asked for (some may still fail to import)."""
    return sorted(set(_FACTORIES) | set(_LAZY))


def make_engine(name: str, **options: Any) -> Engine:
    """A new engine by name; InputError naming what is available when it is unknown or missing."""
    if name not in _FACTORIES and name in _LAZY:
        try:
            importlib.import_module(_LAZY[name])
        except ImportError as exc:
            raise InputError(
                f"swap engine {name!r} is not installed ({exc}); available: "
                f"{', '.join(n for n in engine_names() if n != name)}") from None
    factory = _FACTORIES.get(name)
    if factory is None:
        raise InputError(f"unknown swap engine {name!r}; available: {', '.join(engine_names())}")
    return factory(**options)
