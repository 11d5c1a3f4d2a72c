"""The Ray actor that does a cluster render's frame work, one chunk at a time.

One actor per worker slot and render: it makes its X25519 key when it starts, receives the render
key wrapped to it and the sealed bundle (the faceset, the engine's settings or an autoencoder's
weights, the job), opens them in its memory only and prepares its engine once. Then it analyses
chunks (``analyse``) and swaps, marks and encodes them (``swap``), returning everything sealed.
The actor is killed when the render ends, and its memory with it.
"""

from __future__ import annotations

import io
import itertools
import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from likeness import faces, media, swap
from likeness.errors import InputError
from likeness.faces.types import Face
from likeness.render.chunks import Chunk, ChunkFaces, ChunkPlan, outline
from likeness.render.cores import without_blas_threads
from likeness.render.pipeline import (
    LOOKAHEAD_FRAMES, FrameSwapper, FrameWork, SwapTally, _Analysis, _analyse_frames, _encode, _make_engine, _Marks,
)
from likeness.render.prefetch import prefetched
from likeness.render.sealing import RenderKey, WorkerKey

# Test hook: "<analyse|swap>:<chunk number>:<marker file>" makes the worker process exit at once,
# halfway through that chunk, the first time only (the marker file records that it did); every
# chunk a worker starts is noted in "<marker file>.log" meanwhile.
CRASH_ENV = "LIKENESS_TEST_RAY_CRASH"


@dataclass(frozen=True)
class Bundle:
    """What every worker of a render gets, sealed: the frame work, the faceset, the engine to make."""

    work: FrameWork
    faceset: Any
    engine: str
    engine_options: dict
    index: media.VideoIndex | None


@dataclass(frozen=True)
class ChunkDone:
    """How a chunk's swap went; its frames, marked and encoded, travel beside it (sealed as ``piece``)."""

    number: int
    frames: int
    tally: SwapTally
    prints: tuple


class ChunkWorker:
    """See the module docstring; made by :mod:`likeness.render.cluster` as a Ray actor."""

    def __init__(self) -> None:
        self._key = WorkerKey()
        self._render: RenderKey | None = None
        self._bundle: Bundle | None = None
        self._engine: Any = None
        self._analyzer: faces.FaceAnalyzer | None = None

    def public_key(self) -> bytes:
        return self._key.public

    def open(self, wrapped: bytes, sealed_bundle: bytes) -> str:
        """Unwrap the render key, open the bundle, prepare the engine; returns where this worker runs."""
        self._render = self._key.unwrap(wrapped)
        bundle: Bundle = self._render.open(sealed_bundle, "bundle")
        job = bundle.work.job
        if not Path(job.target).is_file():
            raise InputError(f"{job.target}: not readable on {socket.gethostname()}; a cluster's workers read the "
                             "target at the same path (a folder shared by every node)")
        if bundle.engine == "autoencoder":
            engine = swap.make_engine("autoencoder", **bundle.engine_options)
        else:
            engine = _make_engine(job)
        engine.prepare(bundle.faceset)  # the faceset lives on only inside the engine
        self._bundle, self._engine = replace(bundle, faceset=None), engine
        self._analyzer = faces.FaceAnalyzer()
        return f"{socket.gethostname()}:{os.getpid()}"

    @without_blas_threads
    def analyse(self, chunk: Chunk) -> tuple[bytes, bytes]:
        """The chunk's faces: outlines for the driver's plan, and in full for the swap (both sealed)."""
        bundle, key = self._opened()
        reference = bundle.work.job.reference is not None
        result = _Analysis(faces=[])
        frames = self._frames(chunk, "analyse")
        try:
            _analyse_frames(frames, self._analyzer, result, embed_from=chunk.first if reference else None)  # type: ignore[arg-type]
        finally:
            frames.close()
        if len(result.faces) != chunk.stop - chunk.lead_from:
            raise InputError(f"{bundle.work.job.target}: frames {chunk.lead_from}-{chunk.stop - 1} decoded short")
        report = ChunkFaces(chunk.number, [[outline(f) for f in found] for found in result.faces], result.embeddings)
        return key.seal(report, f"faces {chunk.number}"), key.seal(result.faces, f"faces in full {chunk.number}")

    @without_blas_threads
    def swap(self, chunk: Chunk, sealed_plan: bytes, sealed_faces: bytes) -> tuple[bytes, bytes]:
        """Swap, mark and encode the chunk's own frames (its lead-in is swapped for the smoothing state only):
        how it went, and the piece (an in-memory MP4 with the frames' times in the whole video), both sealed."""
        bundle, key = self._opened()
        work = bundle.work
        plan: ChunkPlan = key.open(sealed_plan, f"plan {chunk.number}")
        found: list[list[Face]] = key.open(sealed_faces, f"faces in full {chunk.number}")
        faces_at = [{plan.tracks[f.track]: replace(f, track=plan.tracks[f.track]) for f in here if f.track in plan.tracks}
                    for here in found]
        selected = _Window(chunk.lead_from, [[at[t] for t in want if t in at] for at, want in zip(faces_at, plan.selected)])
        holds = _Window(chunk.lead_from, plan.holds)
        swapper = FrameSwapper(self._engine, colour=work.job.option("colour"), blend=work.job.option("blend"))
        marks = _Marks(work.info, work.watermark_key, work.render_id)
        frames = self._frames(chunk, None)
        buffer = io.BytesIO()
        crash = _crash_at("swap", chunk)
        try:
            first = None
            for frame in frames:
                if frame.index >= chunk.first:
                    first = frame
                    break
                swapper(frame.image, selected[frame.index], holds[frame.index], frame.time)
            swapper.restart_tally()
            own = itertools.chain([first] if first is not None else [], frames)
            count = _encode(own, buffer, None, work.job, work.info, marks, work.visible, selected, holds, swapper,  # type: ignore[arg-type]
                            crash, chunk.frames, audio=False)
        finally:
            frames.close()
        done = ChunkDone(chunk.number, count, swapper.tally(), tuple(marks.prints))
        return key.seal(done, f"done {chunk.number}"), key.seal(buffer.getvalue(), f"piece {chunk.number}")

    def close(self) -> None:
        close = getattr(self._engine, "close", None)
        if callable(close):
            close()
        if self._analyzer is not None:
            self._analyzer.close()
        self._engine = self._analyzer = self._bundle = self._render = None

    def _opened(self) -> tuple[Bundle, RenderKey]:
        if self._bundle is None or self._render is None:
            raise InputError("this worker was not opened for a render")
        return self._bundle, self._render

    def _frames(self, chunk: Chunk, crash_stage: str | None):
        bundle = self._bundle
        assert bundle is not None
        target = bundle.work.job.target
        if bundle.index is None:
            reader = media.read_frames(target)  # a video that cannot be cut is one chunk, read whole
        else:
            reader = media.read_frames(target, first=chunk.lead_from, stop=chunk.stop, index=bundle.index)
        if crash_stage is not None:
            crash = _crash_at(crash_stage, chunk)
            reader = _passing(reader, lambda frame: crash("", frame.index - chunk.lead_from, None))
        return prefetched(reader, LOOKAHEAD_FRAMES, name="likeness-decode")


class _Window:
    """A chunk's per-frame plan, indexed by the frame's index in the whole video."""

    def __init__(self, start: int, items: list) -> None:
        self.start, self.items = start, items

    def __len__(self) -> int:
        return self.start + len(self.items)

    def __getitem__(self, index: int) -> Any:
        return self.items[index - self.start]


def _passing(frames, each):
    for frame in frames:
        each(frame)
        yield frame


def _crash_at(stage: str, chunk: Chunk):
    """An observer that ends this process halfway through ``chunk`` when the test hook asks (once)."""
    spec = os.environ.get(CRASH_ENV, "")
    wanted_stage, _, rest = spec.partition(":")
    number, _, marker = rest.partition(":")
    armed = bool(marker) and wanted_stage == stage and number == str(chunk.number)
    if marker:
        with open(f"{marker}.log", "a") as log:
            log.write(f"{stage} {chunk.number}\n")

    def observe(_stage: str, frame: int, _frames: int | None) -> None:
        if armed and frame >= chunk.frames // 2 and not os.path.exists(marker):
            Path(marker).write_text(f"{os.getpid()}\n")
            os._exit(17)

    return observe
