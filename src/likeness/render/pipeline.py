"""The render pipeline: the one code path that writes a file with a swapped face in it.

consent check -> probe -> faces (tracks) -> engine -> composite -> watermark (public and secret
marks) -> encode (audio copied) -> [take the render from the quota -> seal (C2PA, with the
render's number and the consent proof) -> record + audit, in one transaction] -> final name.
Consent is checked first and a refusal writes nothing; the quota is used only when the output
exists, so every earlier failure uses nothing and removes the temporary files. A render that
finds the quota filled meanwhile discards its output and says so.

The frame work (faces, engine, composite, watermark, encode) is an executor's: here
:class:`LocalExecutor`, or :class:`likeness.render.cluster.RayExecutor` on a cluster; everything
before and after it is this module's, whichever runs the frames.

For speed on a 2-core machine, every stage has its own thread and the frames flow through them
in order. With ``--face largest|all`` and no reference photo, the analysis runs only
``hold_frames + 1`` frames ahead of the swap (the target is decoded once); when the final
ranking of tracks turns out to choose other faces than the ranking so far did, the swap pass
runs again. Otherwise the whole target is analysed first (its frames kept in memory when they
fit ``FRAME_CACHE_BYTES``), then swapped.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from likeness import consent, faces, media, swap, tagging
from likeness.errors import ConsentError, InputError, LikenessError, NoFaceError
from likeness.faces.types import Embedding, Face, Image
from likeness.render.cores import without_blas_threads
from likeness.render.job import RenderJob
from likeness.tagging.fingerprint import Fingerprint
from likeness.tagging.fingerprint import fingerprint as output_fingerprint
from likeness.render.prefetch import prefetched
from likeness.render.output import OutputPlan, PendingOutput, check_output_path, pending_registry, plan_output, sha256_file
from likeness.render.record import RenderRecord, consent_assertion
from likeness.render.selection import nearest_track, plan_swaps, select_faces

REFERENCE_SAMPLES_PER_TRACK = 8  # embeddings averaged per track when matching --reference
REFERENCE_SAMPLE_EVERY = 10  # frames between two embeddings of one track
LOOKAHEAD_FRAMES = 2  # decoded frames waiting for the compositor: bounds memory at 720p-4K
WRITE_AHEAD_FRAMES = 2  # marked frames waiting for the encoder thread
FRAME_CACHE_BYTES = 1 << 30  # the analysis pass keeps the decoded target in memory up to this, so the swap pass need not decode again
SOFT_FACE_UPSCALE = 1.5  # a new face enlarged more than this from its real detail is reported
POSE_COVERAGE = 0.8  # a face whose visible skin the faceset covers less than this is reported (the swap faded there)
FINGERPRINT_FRAMES = 8  # marked frames, evenly spread, whose fingerprint the render record keeps

log = logging.getLogger("likeness.render")


Observer = Callable[[str, int, "int | None"], None]


def _silent(stage: str, frame: int, frames: int | None) -> None:
    """The observer of a render nobody watches."""


def new_render_id() -> int:
    """A random, non-zero 63-bit id: it fits a signed BIGINT and the 64-bit watermark payload."""
    return secrets.randbelow((1 << 63) - 1) + 1


@without_blas_threads
def render(
    job: RenderJob,
    *,
    vault: Any,
    analyzer: faces.FaceAnalyzer,
    engine: swap.Engine | None = None,
    progress: bool = True,
    observer: Observer | None = None,
    executor: Any = None,
) -> RenderRecord:
    """Run ``job`` and return its record; the output exists only if this returns.

    ``engine`` lets a caller that renders often keep one engine (its models) alive; by default
    one is made from ``job.engine``. Raises :class:`ConsentError` (nothing written) when the
    grant does not cover the job, :class:`InputError` for a bad target, output or reference.
    ``observer(stage, frame, frames)`` hears the progress (a studio worker's heartbeat); an
    exception it raises (a cancel) stops the render with nothing written and nothing used.
    ``executor`` does the frame work: :class:`LocalExecutor` (the default, this process) or
    :class:`likeness.render.cluster.RayExecutor` (a video's frames on a cluster); consent, the
    probe, the seal, the use of the quota and the record stay here whichever it is.
    """
    observe = observer or _silent
    overwrite = bool(job.option("overwrite"))
    check_output_path(job.output, job.target, overwrite=overwrite)
    if job.reference is not None and not job.reference.is_file():
        raise InputError(f"{job.reference}: no such file (the --reference photo)")
    if engine is None and job.engine not in swap.engine_names():
        raise InputError(f"unknown swap engine {job.engine!r}; available: {', '.join(swap.engine_names())}")
    if executor is not None and engine is not None:
        raise InputError(f"the {executor.name} executor makes its engines where it runs; pass no engine with it")
    decision = _authorize(job, vault)
    info = media.probe(job.target)
    total = int(info.frame_count) if info.kind == "video" and info.frame_count else (1 if info.kind == "image" else None)
    observe("analysing", 0, total)
    plan = plan_output(job.output, job.target, info.kind, overwrite=overwrite)
    render_id = new_render_id()
    visible = bool(job.option("visible_label")) or bool(getattr(decision.grant, "visible_label", False))
    is_recorded = lambda sha: vault.render_by_output(sha) is not None  # noqa: E731 - a recorded output is recovered, not swept
    if executor is None or info.kind != "video":  # a picture is one frame: swapped here
        executor = LocalExecutor(engine)
    work = FrameWork(job=job, info=info, render_id=render_id, visible=visible, watermark_key=vault.watermark_key())
    with PendingOutput(plan, registry=pending_registry(vault.settings.home), is_recorded=is_recorded) as pending, pending.named_in_errors():
        done = executor.render_frames(work, vault=vault, analyzer=analyzer, destination=pending.encoded, observe=observe,
                                      progress=progress)
        return _finish(job, vault, decision, pending, render_id, done, observe, total)


@dataclass(frozen=True)
class LocalExecutor:
    """The frame work in this process: decode, analysis, engine, composite and encoder on their own threads.

    With ``--face largest|all`` and no reference photo, the analysis runs only ``hold_frames + 1``
    frames ahead of the swap (the target is decoded once); when the final ranking of tracks turns
    out to choose other faces than the ranking so far did, the swap pass runs again. Otherwise the
    whole target is analysed first (its frames kept in memory when they fit ``FRAME_CACHE_BYTES``),
    then swapped. ``engine``: a caller-owned engine to reuse (else one is made and closed here).
    """

    engine: swap.Engine | None = None
    name: ClassVar[str] = "local"

    def render_frames(self, work: FrameWork, *, vault: Any, analyzer: faces.FaceAnalyzer, destination: Path,
                      observe: Observer, progress: bool = True) -> FrameResult:
        """Swap, mark and encode ``work``'s target into ``destination``."""
        job, info, engine = work.job, work.info, self.engine
        total = int(info.frame_count) if info.kind == "video" and info.frame_count else (1 if info.kind == "image" else None)
        max_gap = int(job.option("hold_frames"))
        # Analysis and swap run together when no choice of faces waits for the end of the target
        # (the usual case); otherwise the whole target is analysed first.
        streaming = info.kind == "video" and job.reference is None and job.face in ("largest", "all")
        if not streaming:
            analysis = _analyse(job, info, analyzer, progress)
            if not any(analysis.faces):
                raise NoFaceError(f"{job.target}: no face found in the target; nothing was written")
            chosen_track = None
            if job.reference is not None:
                chosen_track = _match_reference(job.reference, analysis, analyzer)
            selected, holds = plan_swaps(analysis.faces, job.face, chosen_track=chosen_track, max_gap=max_gap)

        faceset = vault.faceset(job.identity)  # decrypted in memory only
        made = engine is None
        engine = engine if engine is not None else _make_engine(job)
        with _closed_after(engine if made else None):  # an engine made here holds native models: released here
            engine.prepare(faceset)
            del faceset
            swapper = FrameSwapper(engine, colour=job.option("colour"), blend=job.option("blend"))
            marks = _Marks(info, work.watermark_key, work.render_id)
            if streaming:
                analysis, selected, holds = _Analysis(faces=[]), [], []
                frames = _streamed(job, info, analyzer, progress, analysis, selected, holds)
            else:
                frames = analysis.replay(progress, f"swapping {job.target.name}")
                if frames is None:
                    frames = prefetched(_frames(job.target, info, progress, "swapping"), LOOKAHEAD_FRAMES, name="likeness-decode")
            try:
                count = _encode(frames, destination, None, job, info, marks, work.visible, selected, holds, swapper, observe, total)
            finally:
                frames.close()  # stops the decode and analysis threads at once, even on an error
            if streaming:
                if not any(analysis.faces):
                    raise NoFaceError(f"{job.target}: no face found in the target; nothing was written")
                final = plan_swaps(analysis.faces, job.face, max_gap=max_gap)
                if not _same_plan((selected, holds), final):
                    # A face that grew into the largest late in the target: swap again with the final choice.
                    log.info("%s: the choice of faces changed after the swap began; swapping again", job.target)
                    swapper = FrameSwapper(engine, colour=job.option("colour"), blend=job.option("blend"))
                    marks = _Marks(info, work.watermark_key, work.render_id)
                    frames = prefetched(_frames(job.target, info, progress, "swapping again"), LOOKAHEAD_FRAMES, name="likeness-decode")
                    try:
                        count = _encode(frames, destination, None, job, info, marks, work.visible, *final, swapper, observe, total)
                    finally:
                        frames.close()
        return FrameResult(count, swapper.tally(), tuple(marks.prints), {"executor": self.name})


@dataclass(frozen=True)
class FrameWork:
    """What the frame work of one render needs besides the faceset and the engine: the job, the
    probed target, the render id and watermark key the frames are marked with, and whether the
    visible label goes on. An executor hands it to its workers sealed (the key is the studio's)."""

    job: RenderJob
    info: media.MediaInfo
    render_id: int
    visible: bool
    watermark_key: bytes


@dataclass(frozen=True)
class FrameResult:
    """What the frame work gives back: the frames encoded, the swap's tally, the fingerprints of
    the sampled marked frames (in frame order), and notes for the record's settings."""

    frames: int
    tally: "SwapTally"
    prints: tuple
    notes: dict = field(default_factory=dict)


def _finish(job: RenderJob, vault: Any, decision: Any, pending: PendingOutput, render_id: int, done: FrameResult,
            observe: Observer, total: int | None) -> RenderRecord:
    """After the frames are encoded in ``pending``: refuse an output with no face swapped, then take
    the render from the quota, seal the output with its number, record it, and give it its name."""
    swapper, count = done.tally, done.frames
    if swapper.swapped_frames == 0 and swapper.left_frames:
        raise InputError(
            f"{job.target}: no face was swapped: the head is turned further than the crops of {job.identity!r} show "
            f"({round(100 * swapper.least_coverage)}% of it covered); enrol three-quarter and profile photos of "
            "the identity. Nothing was written and the grant was not used")
    if swapper.swapped_frames == 0:
        raise LikenessError(f"{job.target}: the {job.engine} engine failed on every frame; nothing was written")
    pending.checkpoint("encoded")
    observe("sealing", count, total)
    fingerprint = Fingerprint(tuple(done.prints)).to_bytes()
    chain_pem, key_pem = vault.c2pa_signing()

    def produce(n: int) -> RenderRecord:
        # Runs inside the ledger's transaction: the number sealed into the output is exact.
        now = time.time()
        pending.checkpoint("sealing")
        assertion = consent_assertion(
            grant=decision.grant, signed=decision.signed, public_key=decision.public_key, scope=job.scope,
            vault_id=vault.vault_id, head=decision.head, n=n, time=now,
        )
        tagging.seal(pending.encoded, pending.sealed, render_id=render_id, chain_pem=chain_pem, key_pem=key_pem,
                     consent=assertion, workdir=pending.folder)
        pending.checkpoint("sealed")
        return _record(job, render_id, pending.sealed, count, swapper, n=n, fingerprint=fingerprint, when=now, notes=done.notes)

    # Recorded before the rename, so no output is ever unregistered (doctor finishes a rename cut short).
    taken = consent.take(vault, decision, use="render", data={"engine": job.engine, "scope": job.scope}, produce=produce)
    pending.commit(overwrite=bool(job.option("overwrite")))
    assert taken.render is not None
    return taken.render


class _Marks:
    """The render's watermarker (public and secret marks) and the fingerprints of the marked frames it samples."""

    def __init__(self, info: media.MediaInfo, secret_key: bytes, render_id: int) -> None:
        self.render_id = render_id
        self.marker = tagging.Watermarker(tagging.PUBLIC_KEY, video=info.kind == "video", secret_key=secret_key)
        total = max(1, int(info.frame_count or 1)) if info.kind == "video" else 1
        self.wanted = {round(i * (total - 1) / max(1, FINGERPRINT_FRAMES - 1)) for i in range(min(FINGERPRINT_FRAMES, total))}
        self.prints: list = []  # the fingerprint of each sampled frame, taken when it is marked

    def keep(self, index: int, image: Image, boxes: list) -> None:
        """Fingerprint ``image`` now if it is a sampled frame: 8 marked 4K frames held to the end
        would cost 200 MB; their prints cost a few kB."""
        if index in self.wanted and len(self.prints) < FINGERPRINT_FRAMES:
            regions = [[tuple(int(v) for v in box) for box in boxes]]
            self.prints.append(output_fingerprint([image], regions=regions).images[0])

    def clear(self) -> None:
        self.prints.clear()


@contextmanager
def _closed_after(engine: Any) -> Iterator[None]:
    """Close ``engine`` (when it has ``close``) once the block ends, however it ends."""
    try:
        yield
    finally:
        close = getattr(engine, "close", None)
        if callable(close):
            close()


def _make_engine(job: RenderJob) -> swap.Engine:
    """The job's engine, with the job's working size when it sets one."""
    work_size = job.option("work_size")
    if work_size is None:
        return swap.make_engine(job.engine)
    try:
        return swap.make_engine(job.engine, work_size=work_size)
    except TypeError:
        raise InputError(f"the {job.engine} engine does not take the work_size option") from None


def _authorize(job: RenderJob, vault: Any, *, again: bool = False) -> Any:
    """Ask consent (which audits the decision); the quota is used only when the output exists.

    ``again``: check, midway through a long render, that the grant still holds (not audited:
    ``consent.take`` checks once more when the output exists).
    """
    request = consent.Request(identity=job.identity, grant_id=job.grant_id, scope=job.scope, use="render",
                              studio=job.organisation or vault.studio)
    decision = (consent.check if again else consent.authorize)(vault, request)
    if not decision.allowed:
        reasons = "; ".join(decision.reasons) or "no reason given"
        outcome = "stopped" if again else "refused"
        raise ConsentError(f"render of {job.identity!r} under grant {job.grant_id} {outcome}: {reasons}; nothing was written")
    return decision


@dataclass
class _Analysis:
    faces: list[list[Face]]
    embeddings: dict[int, list[Embedding]] = field(default_factory=dict)
    frames: deque[media.Frame] | None = None  # the decoded target, when it fitted FRAME_CACHE_BYTES

    def replay(self, progress: bool, label: str) -> Iterator[media.Frame] | None:
        """The cached frames, each released once handed out (None when not cached)."""
        if self.frames is None:
            return None
        frames, self.frames = self.frames, None

        def drain() -> Iterator[media.Frame]:
            while frames:
                yield frames.popleft()

        return media.track_progress(drain(), len(frames), label) if progress else drain()


def _cached(frames: Iterator[media.Frame], result: _Analysis, budget: int) -> Iterator[media.Frame]:
    """Pass ``frames`` through, keeping them in ``result.frames`` while they fit ``budget`` bytes.

    Target frames are not talent data; they stay in memory only, and only up to the budget
    (a long or 4K target is decoded a second time instead).
    """
    kept: deque[media.Frame] | None = deque()
    size = 0
    for frame in frames:
        if kept is not None:
            size += frame.image.nbytes
            if size <= budget:
                kept.append(frame)
            else:
                kept = None
        yield frame
    result.frames = kept


def _frames(path: Path, info: media.MediaInfo, progress: bool, label: str) -> Iterator[media.Frame]:
    """The target's frames; an image is one frame at time 0. The decoder closes when done."""
    if info.kind == "image":
        yield media.Frame(0, 0.0, media.read_image(path))
        return
    with media.read_frames(path) as reader:
        yield from (media.track_progress(reader, info.frame_count or None, f"{label} {path.name}") if progress else reader)


def _analyse(job: RenderJob, info: media.MediaInfo, analyzer: faces.FaceAnalyzer, progress: bool) -> _Analysis:
    """Faces of every frame with track ids; a sample of embeddings per track when a reference is given."""
    want_embeddings = job.reference is not None
    result = _Analysis(faces=[])
    if info.kind == "image":
        image = media.read_image(job.target)
        found = [_with_track(face, i) for i, face in enumerate(analyzer.detect(image))]
        result.faces.append(found)
        result.frames = deque([media.Frame(0, 0.0, image)])
        if want_embeddings:
            result.embeddings = {f.track: [analyzer.embed(image, f)] for f in found}  # type: ignore[misc]
        return result
    decoded = prefetched(_frames(job.target, info, progress, "analysing"), LOOKAHEAD_FRAMES, name="likeness-decode")
    return _analyse_frames(_cached(decoded, result, FRAME_CACHE_BYTES), analyzer, result, embed_from=0 if want_embeddings else None)


def _analyse_frames(frames: Iterator[media.Frame], analyzer: faces.FaceAnalyzer, result: _Analysis, *,
                    embed_from: int | None) -> _Analysis:
    """Track the faces of ``frames`` into ``result.faces``; with ``embed_from``, sample embeddings
    of each track (every ``REFERENCE_SAMPLE_EVERY``-th frame of it) from that frame index on."""
    seen: dict[int, int] = {}
    for frame, tracked in _tracked(faces.analyze_video(frames, analyzer)):
        if embed_from is not None and frame.index >= embed_from:
            for face in tracked:
                n = seen.get(face.track, 0)
                seen[face.track] = n + 1
                samples = result.embeddings.setdefault(face.track, [])
                if n % REFERENCE_SAMPLE_EVERY == 0 and len(samples) < REFERENCE_SAMPLES_PER_TRACK:
                    samples.append(face.embedding if face.embedding is not None else analyzer.embed(frame.image, face))
        result.faces.append(tracked)
    return result


def _tracked(analysed: Iterator[tuple[Any, list[Face]]]) -> Iterator[tuple[media.Frame, list[Face]]]:
    """Every face with a track id (a face the tracker left without one becomes a one-frame track)."""
    untracked = -1
    for frame, found in analysed:
        tracked = []
        for face in found:
            if face.track is None:  # should not happen
                face, untracked = _with_track(face, untracked), untracked - 1
            tracked.append(face)
        yield frame, tracked


def _streamed(job: RenderJob, info: media.MediaInfo, analyzer: faces.FaceAnalyzer, progress: bool,
              analysis: _Analysis, selected: list[list[Face]], holds: list[list[int]]) -> Iterator[media.Frame]:
    """The target's frames for the swap pass while the analysis runs ahead on its own thread.

    A frame is handed on as soon as its plan (faces to swap, tracks to hold) is final but for
    the ranking of tracks, which is the ranking so far: at once when it swaps every track the
    frames before it swapped, else once the frames within ``hold_frames + 1`` after it are
    analysed. Fills ``analysis.faces``, ``selected`` and ``holds`` as it goes; the
    caller checks the plan against the whole target's at the end.
    """
    max_gap = int(job.option("hold_frames"))
    lag = max_gap + 1
    sizes: dict[int, float] = defaultdict(float)
    waiting: deque[media.Frame] = deque()

    def ranking() -> list[int]:
        return sorted(sizes, key=lambda t: (-sizes[t], t))

    def settled(frame: media.Frame) -> bool:
        """Whether the frame's plan is known before the frames after it are: every track swapped
        in the frames just before it is swapped in it too, so there is nothing to hold. The usual
        case; the lag (7 frames, 175 MB at 4K) is kept only while a face is missing."""
        index = frame.index
        now = {f.track for f in select_faces([analysis.faces[index]], job.face, ranking=ranking())[0]}
        return all(f.track in now for faces_ in selected[max(0, index - lag):index] for f in faces_)

    def settle(frame: media.Frame) -> media.Frame:
        index = frame.index
        start = max(0, index - lag)
        chosen, held = plan_swaps(analysis.faces[start:index + lag + 1], job.face, max_gap=max_gap, ranking=ranking())
        selected.append(chosen[index - start])
        holds.append(held[index - start])
        return frame

    decoded = prefetched(_frames(job.target, info, progress, "swapping"), LOOKAHEAD_FRAMES, name="likeness-decode")
    # The lag is held in ``waiting``; the analysis queue itself stays short (each 4K frame is 25 MB).
    analysed = prefetched(_tracked(faces.analyze_video(decoded, analyzer)), LOOKAHEAD_FRAMES, name="likeness-analyse")
    try:
        for frame, tracked in analysed:
            analysis.faces.append(tracked)
            for face in tracked:
                sizes[face.track] += float(face.box[2] * face.box[3])  # type: ignore[index]
            waiting.append(frame)
            while waiting and (len(waiting) > lag or settled(waiting[0])):
                yield settle(waiting.popleft())
        while waiting:
            yield settle(waiting.popleft())
    finally:
        analysed.close()
        decoded.close()


def _same_plan(plan: tuple[list[list[Face]], list[list[int]]], final: tuple[list[list[Face]], list[list[int]]]) -> bool:
    """Whether two plans swap the same tracks and hold the same tracks in every frame."""
    (selected, holds), (final_selected, final_holds) = plan, final
    tracks = lambda plan_selected: [[f.track for f in faces_] for faces_ in plan_selected]  # noqa: E731
    return tracks(selected) == tracks(final_selected) and [sorted(h) for h in holds] == [sorted(h) for h in final_holds]


def _with_track(face: Face, track: int) -> Face:
    return replace(face, track=track)


def _match_reference(reference: Path, analysis: _Analysis, analyzer: faces.FaceAnalyzer) -> int:
    """The track most like the person in the reference photo."""
    image = media.read_image(reference)
    found = analyzer.detect(image)
    if not found:
        raise NoFaceError(f"{reference}: no face found in the reference photo")
    wanted = analyzer.embed(image, found[0])
    track = nearest_track(analysis.embeddings, np.asarray(wanted, dtype=np.float32))
    if track is None:
        raise NoFaceError(f"{reference}: no target face could be compared with the reference photo")
    return track


@dataclass(frozen=True)
class SwapTally:
    """How a render's swap went, frame by frame: the numbers its record keeps (see :class:`FrameSwapper`)."""

    failed_frames: int = 0
    swapped_frames: int = 0
    max_upscale: float = 1.0
    soft_frames: int = 0
    pose_frames: int = 0
    least_coverage: float = 1.0
    left_frames: int = 0

    @staticmethod
    def combine(tallies: "list[SwapTally]") -> "SwapTally":
        """The tally of consecutive pieces of one render."""
        return SwapTally(
            **{name: sum(getattr(t, name) for t in tallies) for name in ("failed_frames", "swapped_frames", "soft_frames", "pose_frames", "left_frames")},
            max_upscale=max((t.max_upscale for t in tallies), default=1.0),
            least_coverage=min((t.least_coverage for t in tallies), default=1.0),
        )


class FrameSwapper:
    """Swaps the chosen faces of one frame after another, smoothing colour and mask per track.

    The smoother keeps each track's last good patch, used when the face is briefly lost or when
    the engine fails on a frame: one bad frame never stops a video, it is counted instead.
    """

    def __init__(self, engine: swap.Engine, *, colour: str, blend: str) -> None:
        self.engine = engine
        self.colour = colour
        self.blend = blend
        self.smoother = swap.TemporalSmoother()
        self.failed_frames = 0
        self.swapped_frames = 0
        self.max_upscale = 1.0  # how much the softest new face was enlarged past its real detail
        self.soft_frames = 0  # frames with a face enlarged more than SOFT_FACE_UPSCALE
        self.pose_frames = 0  # frames with a face turned past what the faceset covers (POSE_COVERAGE)
        self.least_coverage = 1.0
        self.left_frames = 0  # ... of which so turned that the engine left a face as it was

    def __call__(self, image: Image, chosen: list[Face], held: list[int], time: float | None = None) -> Image:
        return self.apply(image, self.propose(image, chosen), held, time)

    def propose(self, image: Image, chosen: list[Face]) -> list[tuple[Face, Any]]:
        """The engine's patch (or the exception it raised) per chosen face.

        Touches no smoothing state, so it may run on a worker thread, one frame ahead of
        :meth:`apply`.
        """
        proposals: list[tuple[Face, Any]] = []
        for face in chosen:
            try:
                proposals.append((face, self.engine.swap(image, face)))
            except Exception as exc:  # noqa: BLE001 - one frame's failure must not stop the video
                proposals.append((face, exc))
        return proposals

    def apply(self, image: Image, proposals: list[tuple[Face, Any]], held: list[int], time: float | None = None) -> Image:
        """Composite the proposals in order (smoothing per track), then the held tracks."""
        out = image
        failed = swapped = soft = turned = left = False
        for face, patch in proposals:
            track = face.track if face.track is not None else -1
            try:
                if isinstance(patch, BaseException):
                    raise patch
                coverage = float(getattr(patch, "coverage", 1.0))
                self.least_coverage = min(self.least_coverage, coverage)
                turned |= coverage < POSE_COVERAGE
                if coverage < 1.0 and patch.empty:
                    # The engine left this face as it was (turned past the faceset): nothing to
                    # composite, and nothing to hold over the next frames of the track either.
                    self.smoother.forget(track)
                    left = True
                    continue
                out = swap.composite(out, patch, colour=self.colour, blend=self.blend, smoother=self.smoother, track=track)
                self.smoother.remember(track, patch, time)
                swapped = True
                upscale = float(getattr(patch, "upscale", 1.0))
                self.max_upscale = max(self.max_upscale, upscale)
                soft |= upscale > SOFT_FACE_UPSCALE
            except Exception:  # noqa: BLE001 - one frame's failure must not stop the video
                failed = True
                out, held_ok = self._hold(out, track)
                swapped |= held_ok
        for track in held:
            out, held_ok = self._hold(out, track)
            swapped |= held_ok
        self.failed_frames += failed
        self.swapped_frames += swapped
        self.soft_frames += soft
        self.pose_frames += turned
        self.left_frames += left
        return out

    def tally(self) -> SwapTally:
        """The counts so far, as one value (what the record keeps; an executor adds up its chunks')."""
        return SwapTally(**{name: getattr(self, name) for name in SwapTally.__dataclass_fields__})

    def restart_tally(self) -> None:
        """Count from here on only (the smoothing state is kept): a chunk's lead-in frames are not its own."""
        for name, value in vars(SwapTally()).items():
            setattr(self, name, value)

    def _hold(self, frame: Image, track: int) -> tuple[Image, bool]:
        """``frame`` with the track's last good face, if it has one (else unchanged)."""
        last = self.smoother.last(track)
        if last is None or last.empty:
            return frame, False
        # The old backdrop belongs to another frame: blend onto this frame's own pixels instead.
        last = replace(last, backdrop=None)
        try:
            return swap.composite(frame, last, colour=self.colour, blend=self.blend, smoother=self.smoother, track=track), True
        except Exception:  # noqa: BLE001 - a hold is best effort; the original frame is the fallback
            return frame, False


def _encode(
    frames: Iterator[media.Frame],
    path: Path,
    plan: OutputPlan,
    job: RenderJob,
    info: media.MediaInfo,
    marks: _Marks,
    visible: bool,
    selected: list[list[Face]],
    holds: list[list[int]],
    swapper: FrameSwapper,
    observe: Observer,
    total: int | None,
    *,
    audio: bool = True,
) -> int:
    """Swap, watermark and write every frame to ``path`` (a file, or an in-memory one); returns the
    number of frames. ``audio``: copy the target's audio (a piece of a video is joined without)."""
    count = 0
    marks.clear()
    marker, render_id = marks.marker, marks.render_id  # one per render: layouts and tiled patterns reused by every frame
    with ExitStack() as stack:
        # Three stages on three threads, in frame order: the engine works a frame or two ahead,
        # this thread composites (the smoothing state is this thread's alone) and watermarks,
        # and a third encodes. numpy, OpenCV and x264 release the GIL.
        engine_pool = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="likeness-swap"))
        ahead: deque[tuple[media.Frame, list[Face], Future]] = deque()
        writes: deque[Future] = deque()
        write_pool: ThreadPoolExecutor | None = None
        writer: media.VideoWriter | None = None

        def mark(image: Image, frame: media.Frame, boxes: list) -> Image:
            return tagging.mark_frame(image, render_id=render_id, face_boxes=boxes, visible=visible, time=frame.time, marker=marker)

        def finish(frame: media.Frame, chosen: list[Face], proposals: Future) -> None:
            nonlocal writer, write_pool, count
            held = holds[frame.index] if frame.index < len(holds) else []
            swapped = swapper.apply(frame.image, proposals.result(), held, frame.time)
            marked = mark(swapped, frame, [face.box for face in chosen])
            marks.keep(frame.index, marked, [face.box for face in chosen])
            if info.kind == "image":
                media.write_image(path, marked, quality=int(job.option("quality")))
            else:
                if writer is None:
                    height, width = swapped.shape[:2]
                    writer = stack.enter_context(
                        media.VideoWriter(path, width=width, height=height, fps=info.fps, audio_from=job.target if audio else None,
                                          crf=int(job.option("crf")), preset=job.option("preset"))
                    )
                    # Entered after the writer, so it is drained before the writer closes.
                    write_pool = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="likeness-encode"))
                writes.append(write_pool.submit(writer.write, marked, time=frame.time))  # type: ignore[union-attr]
                while len(writes) > WRITE_AHEAD_FRAMES:
                    writes.popleft().result()
            count += 1
            observe("swapping", count, total)

        for frame in frames:
            chosen = selected[frame.index] if frame.index < len(selected) else []
            ahead.append((frame, chosen, engine_pool.submit(swapper.propose, frame.image, chosen)))
            if len(ahead) > LOOKAHEAD_FRAMES:
                finish(*ahead.popleft())
        while ahead:
            finish(*ahead.popleft())
        while writes:
            writes.popleft().result()
    if count == 0:
        raise InputError(f"{job.target}: no frame could be decoded; nothing was written")
    return count


def _record(job: RenderJob, render_id: int, output_file: Path, frames: int, swapper: SwapTally, *,
            n: int, fingerprint: bytes, when: float, notes: dict | None = None) -> RenderRecord:
    settings = {
        **job.settings(),
        "target": str(job.target),
        "output": str(job.output),
        "frames": frames,
        "failed_frames": swapper.failed_frames,
        # Never paste a low-resolution face into a big frame silently: how much softer it is.
        "face_upscale": round(swapper.max_upscale, 2),
        "soft_face_frames": swapper.soft_frames,
        # Nor stretch a frontal faceset over a turned head: where it had no view, the target shows.
        "pose_coverage_frames": swapper.pose_frames,
        "least_pose_coverage": round(swapper.least_coverage, 2),
        "pose_left_frames": swapper.left_frames,
        **(notes or {}),
    }
    if swapper.pose_frames:
        log.warning(
            "%s: in %d of %d frames the face is turned further than the identity's crops show (as little as %d%% "
            "of it covered); the swap fades to the target's own skin there, and %d frames were left as they were. "
            "Enrol three-quarter and profile photos of the identity for these poses",
            job.target, swapper.pose_frames, frames, round(100 * swapper.least_coverage), swapper.left_frames,
        )
    if swapper.soft_frames:
        log.warning(
            "%s: in %d of %d frames the new face has less detail than the target face (enlarged up to %.1fx: "
            "the identity's crops or the working size are smaller than the face); it looks softer than the frame",
            job.target, swapper.soft_frames, frames, swapper.max_upscale,
        )
    return RenderRecord(
        render_id=render_id,
        grant_id=str(job.grant_id),
        identity=job.identity,
        target_sha256=sha256_file(job.target),
        output_sha256=sha256_file(output_file),
        engine=job.engine,
        settings=settings,
        time=when,
        n=n,
        fingerprint=fingerprint,
    )
