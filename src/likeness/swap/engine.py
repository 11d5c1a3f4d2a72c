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
    full-size ``image`` and ``mask`` are then its upsampling, made only when something reads
    them (the composite does not: at 4K they would be 50 MB per face in flight).  ``upscale`` > 1 says the face's real detail
    (source crop or working size) is that many times smaller than the face in the frame: the
    new face is softer than the frame around it. ``coverage`` is the share of the target's
    visible face that the faceset has a view of (below 1 the swap faded to the target's own skin
    there: the faceset lacks that pose).
    """

    _image: Image | None  # None: upsampled from ``work`` when first read
    _mask: Mask | None
    x: int
    y: int
    backdrop: Image | None = None
    support: NDArray[np.bool_] | None = None
    work: WorkCrop | None = None
    upscale: float = 1.0
    coverage: float = 1.0

    def __post_init__(self) -> None:
        if (self._image is None or self._mask is None) and (self.work is None or self.support is None):
            raise ValueError("a Patch without its full-size image and mask needs work and support")

    @property
    def shape(self) -> tuple[int, int]:
        """Height and width of the crop in frame pixels."""
        known = self._mask if self._mask is not None else self.support
        return known.shape[0], known.shape[1]  # type: ignore[union-attr]

    @property
    def box(self) -> tuple[int, int, int, int]:
        """x, y, w, h of the crop in the frame."""
        h, w = self.shape
        return self.x, self.y, w, h

    @property
    def image(self) -> Image:
        if self._image is None:
            object.__setattr__(self, "_image", self._upsample(self.work.image))  # type: ignore[union-attr]
        return self._image  # type: ignore[return-value]

    @property
    def mask(self) -> Mask:
        if self._mask is None:
            object.__setattr__(self, "_mask", self._upsample(self.work.mask))  # type: ignore[union-attr]
        return self._mask  # type: ignore[return-value]

    @property
    def empty(self) -> bool:
        """Whether the patch changes nothing (the engine left the face as it was)."""
        mask = self._mask if self._mask is not None else self.work.mask  # type: ignore[union-attr]
        return not np.any(mask)

    def _upsample(self, small: NDArray) -> NDArray:
        import cv2  # only a patch's readers outside the pipeline need this

        h, w = self.shape
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)

    def full_mask(self, frame_shape: tuple[int, ...]) -> Mask:
        """The mask over a whole frame (for tests and reports; the pipeline stays in the crop)."""
        out = np.zeros(frame_shape[:2], np.float32)
        h, w = self.shape
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
