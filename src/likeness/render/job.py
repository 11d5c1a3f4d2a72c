"""What a render is asked to do: the one input of :func:`likeness.render.render`.

The CLI, the studio and scripts all build a :class:`RenderJob`; everything they may ask for is
here, validated before any file is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from likeness.errors import InputError

FaceSpec = Union[Literal["largest", "all"], int]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov")  # containers that both carry the audio copy and take a C2PA manifest

# Options a job may carry, with their defaults; anything else is a typo worth a clear error.
DEFAULT_OPTIONS: Mapping[str, Any] = {
    "colour": "reinhard",  # reinhard | histogram | none
    "blend": "laplacian",  # laplacian | poisson
    "crf": 18,  # H.264 quality of video outputs
    "quality": 95,  # JPEG/WebP quality of image outputs
    "visible_label": False,  # force the visible label even when the grant does not ask for it
    "hold_frames": 6,  # a tracked face missing for up to this many frames keeps its last swap
    "preset": "veryfast",  # x264 preset of video outputs: speed for size at the same crf (slower = smaller file)
    "work_size": None,  # largest face side (px) the engine and composite work at; None: the engine's default
    "overwrite": False,  # replace an existing output file (otherwise it is refused before anything runs)
}
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
_CHOICES = {"colour": ("reinhard", "histogram", "none"), "blend": ("laplacian", "poisson"), "preset": X264_PRESETS}


@dataclass(frozen=True)
class RenderJob:
    """Swap ``identity`` into ``target`` under ``grant_id``, writing ``output``.

    ``face`` picks which faces: ``"largest"`` (per frame, the face of the largest track),
    ``"all"``, or an index into the tracks ranked by size (0 = largest). ``reference`` instead
    picks the track whose face is most like that photo, across the whole video.
    """

    target: Path
    output: Path
    identity: str
    grant_id: str
    scope: str | None = None
    engine: str = "retrieval"
    face: FaceSpec = "largest"
    reference: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    organisation: str | None = None  # the client organisation rendering (the studio's workers); None: the vault's own

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", Path(self.target))
        object.__setattr__(self, "output", Path(self.output))
        if self.reference is not None:
            object.__setattr__(self, "reference", Path(self.reference))
        object.__setattr__(self, "face", parse_face_spec(self.face))
        unknown = sorted(set(self.options) - set(DEFAULT_OPTIONS))
        if unknown:
            raise InputError(f"unknown render option(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_OPTIONS)}")
        for key, allowed in _CHOICES.items():
            if key in self.options and self.options[key] not in allowed:
                raise InputError(f"render option {key}={self.options[key]!r}: use one of {', '.join(allowed)}")
        work_size = self.options.get("work_size")
        if work_size is not None and (isinstance(work_size, bool) or not isinstance(work_size, int) or work_size < 64):
            raise InputError(f"render option work_size={work_size!r}: use a face size in pixels, 64 or more (or None)")

    def option(self, key: str) -> Any:
        """The job's value for ``key``, or the default."""
        return self.options.get(key, DEFAULT_OPTIONS[key])

    def settings(self) -> dict[str, Any]:
        """Everything that shaped the output, as recorded in the vault."""
        return {
            "engine": self.engine,
            "face": self.face,
            "reference": str(self.reference) if self.reference else None,
            "scope": self.scope,
            **{key: self.option(key) for key in DEFAULT_OPTIONS},
        }


def parse_face_spec(value: object) -> FaceSpec:
    """``"largest"``, ``"all"`` or a non-negative index (also given as a string, as the CLI does)."""
    if isinstance(value, bool):
        raise InputError(f"--face {value!r}: use largest, all or a face index (0, 1, ...)")
    if isinstance(value, int):
        if value < 0:
            raise InputError(f"--face {value}: a face index is 0 or more")
        return value
    text = str(value).strip().lower()
    if text in ("largest", "all"):
        return text  # type: ignore[return-value]
    if text.isdigit():
        return int(text)
    raise InputError(f"--face {value!r}: use largest, all or a face index (0, 1, ...)")
