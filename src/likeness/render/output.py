"""Where the output goes: checked up front, written under temporary names, renamed when whole.

A reader of the output folder sees either nothing or the finished, sealed file: the encoder and
the signer write to hidden temporary names beside the output (same filesystem, so the final
``os.replace`` is atomic), and any failure removes them.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from likeness.errors import InputError, LikenessError
from likeness.render.job import IMAGE_SUFFIXES, VIDEO_SUFFIXES


@dataclass(frozen=True)
class OutputPlan:
    """The final path and the format (as a suffix) the file is written in."""

    path: Path
    suffix: str


def check_output_path(output: Path, target: Path) -> None:
    """The checks that need no file read: run before consent, so a typo does not use up a render."""
    output = Path(output)
    if not Path(target).is_file():
        raise InputError(f"{target}: no such file")
    if output.resolve() == Path(target).resolve():
        raise InputError(f"{output}: the output would overwrite the target; choose another name")
    if output.is_dir():
        raise InputError(f"{output}: is a folder; give a file name for the output")
    if not output.parent.is_dir():
        raise InputError(f"{output}: folder {output.parent} does not exist")
    suffix = output.suffix.lower()
    if suffix and suffix not in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
        raise InputError(f"{output}: unsupported output format {suffix}; use {', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)}")


def plan_output(output: Path, target: Path, kind: str) -> OutputPlan:
    """Check the output path against the target's kind; images keep the target's format unless told.

    Raises :class:`InputError` before anything is written.
    """
    output = Path(output)
    check_output_path(output, target)
    suffix = output.suffix.lower()
    if kind == "image":
        if suffix in IMAGE_SUFFIXES:
            return OutputPlan(output, suffix)
        if suffix in VIDEO_SUFFIXES:
            raise InputError(f"{output}: the target {target} is an image; give an image output ({', '.join(IMAGE_SUFFIXES)})")
        if suffix:
            raise InputError(f"{output}: unsupported image format {suffix}; use {', '.join(IMAGE_SUFFIXES)}")
        target_suffix = Path(target).suffix.lower()
        return OutputPlan(output, target_suffix if target_suffix in IMAGE_SUFFIXES else ".png")
    if suffix in VIDEO_SUFFIXES:
        return OutputPlan(output, suffix)
    if suffix in IMAGE_SUFFIXES:
        raise InputError(f"{output}: the target {target} is a video; give a video output ({', '.join(VIDEO_SUFFIXES)})")
    if suffix:
        raise InputError(f"{output}: unsupported video container {suffix}; use {', '.join(VIDEO_SUFFIXES)}")
    return OutputPlan(output, ".mp4")


class PendingOutput:
    """Temporary names for the encoded and the sealed file; removed unless :meth:`commit` ran.

    Use as a context manager around encoding and sealing.
    """

    def __init__(self, plan: OutputPlan) -> None:
        token = secrets.token_hex(6)
        stem = f".{plan.path.name}.{token}"
        self.plan = plan
        self.encoded = plan.path.with_name(f"{stem}.part{plan.suffix}")
        self.sealed = plan.path.with_name(f"{stem}.sealed{plan.suffix}")
        self._committed = False

    def __enter__(self) -> PendingOutput:
        return self

    def commit(self) -> Path:
        """Give the sealed file its final name (atomically) and drop the unsigned one."""
        os.replace(self.sealed, self.plan.path)
        self._committed = True
        self.encoded.unlink(missing_ok=True)
        return self.plan.path

    @contextmanager
    def named_in_errors(self) -> Iterator[None]:
        """Errors from the encoder or signer name the user's output, not our hidden temporary."""
        try:
            yield
        except LikenessError as exc:
            message = str(exc)
            for temp in (self.encoded, self.sealed):
                message = message.replace(str(temp), str(self.plan.path)).replace(temp.name, self.plan.path.name)
            if message == str(exc):
                raise
            raise type(exc)(message) from exc

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.encoded.unlink(missing_ok=True)
        if not self._committed:
            self.sealed.unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
