"""The Ray executor: a video's frame work split by time over a Ray cluster, joined by stream copy.

:func:`likeness.render.render` stays the one render path: it takes consent, probes the target,
plans the output, and afterwards seals, takes the use from the quota and records, once. In
between it hands the frame work to :meth:`RayExecutor.render_frames`, which

1. cuts the target at keyframes into chunks of about ``chunk_seconds`` (each with a lead-in of
   about a second, see :mod:`likeness.render.chunks`);
2. seals the faceset (and an autoencoder's weights, and the watermark key) under a fresh render
   key, puts that ciphertext in the object store once, and starts one :class:`ChunkWorker`
   actor per worker slot, wrapping the render key to each actor's own X25519 key
   (:mod:`likeness.render.sealing`); each actor prepares its engine once;
3. has the workers analyse their chunks; joins the tracks across the cuts and plans the face
   choice for the whole target here, so ``--face largest`` and ``--reference`` mean what they
   mean on one machine;
4. checks that the grant still holds, then has the workers swap, mark (with the frames' global
   index and time) and encode their chunks with the job's settings (each chunk is its own closed
   GOP), and joins the pieces by stream copy, with the target's audio copied once.

A worker that dies is restarted by Ray (``max_restarts``); the driver wraps the key to its new
key pair and gives it again only the chunk it lost: finished chunks are kept. A chunk that kills
its worker :data:`MAX_CHUNK_ATTEMPTS` times, any other failure, or an exception from the observer
(a cancel) ends the render: the actors are killed and nothing is written.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from likeness import faces, media, swap
from likeness.errors import InputError, LikenessError, NoFaceError
from likeness.render.chunks import Chunk, ChunkFaces, chunk_length, join_tracks, merged_embeddings, plan_chunks, plan_for
from likeness.render.pipeline import (
    REFERENCE_SAMPLES_PER_TRACK, FrameResult, FrameWork, Observer, SwapTally, _Analysis, _authorize, _match_reference,
)
from likeness.render.selection import plan_swaps
from likeness.render.sealing import RenderKey

log = logging.getLogger("likeness.render")

CHUNK_SECONDS = 20.0  # video per chunk: long enough that the lead-in and a worker's start-up are small beside it
LEAD_IN_SECONDS = 1.0  # frames before a chunk analysed and swapped for continuity (at least hold_frames + 1)
MAX_CHUNK_ATTEMPTS = 3  # a chunk that kills its worker this often fails the render
WAIT_S = 0.25  # the observer (a studio heartbeat, a cancel) is called at least this often
LOCAL_FOLDER_PREFIX = "likeness-ray-"  # in the system's temporary folder: a local cluster's sockets, logs and spill
RESTART_WAIT_S = 120.0  # how long a worker Ray restarts may take to answer again


@dataclass(frozen=True)
class RayExecutor:
    """Run the frame work of video renders on a Ray cluster.

    ``address``: None starts a local cluster for the render (its temporary folder private and
    removed afterwards), ``"auto"`` or ``"ray://host:port"``/``"host:port"`` joins a running one.
    ``workers``: how many at once (default: one per CPU of the cluster, one per GPU with
    ``device="cuda"``). ``device`` and ``model``: the autoencoder engine's (``cuda`` asks Ray for
    GPU workers). Every node must read the target at the same path.
    """

    address: str | None = None
    workers: int | None = None
    chunk_seconds: float = CHUNK_SECONDS
    device: str = "auto"
    model: str | None = None
    name: ClassVar[str] = "ray"

    def render_frames(self, work: FrameWork, *, vault: Any, analyzer: faces.FaceAnalyzer, destination: Path,
                      observe: Observer, progress: bool = False) -> FrameResult:
        """Swap, mark and encode ``work``'s target into ``destination`` on the cluster (see the module docstring)."""
        job, info = work.job, work.info
        index = media.video_index(job.target)
        total = index.frames if index is not None else int(info.frame_count)
        lead_in = max(int(job.option("hold_frames")) + 1, round(LEAD_IN_SECONDS * (info.fps or 25.0)))
        key = RenderKey.generate()
        with _connected(self.address) as ray, _bars(progress, observe, job.target.name) as observe:
            gpus = job.engine == "autoencoder" and self.device == "cuda"
            slots = self._slots(ray, gpus)
            chunks = plan_chunks(index, total, chunk_length(total, info.fps, workers=slots, seconds=self.chunk_seconds,
                                                             lead_in=lead_in), lead_in)
            started = time.monotonic()
            faceset = vault.faceset(job.identity)  # decrypted in this memory, sealed before it goes anywhere
            bundle = _bundle(work, faceset, self, vault, index)
            sealed = ray.put(key.seal(bundle, "bundle"))
            del faceset, bundle
            pool = _Pool(ray, key, sealed, min(slots, len(chunks)), gpus=gpus, observe=observe)
            try:
                pool.start()
                opened = time.monotonic()
                analysed = pool.run(chunks, "analysing", total, lambda actor, chunk: actor.analyse.options(num_returns=2).remote(chunk))
                reports: list[ChunkFaces] = [key.open(ray.get(analysed[c.number][0]), f"faces {c.number}") for c in chunks]
                joined, mappings = join_tracks(chunks, reports)
                if not any(joined):
                    raise NoFaceError(f"{job.target}: no face found in the target; nothing was written")
                chosen = None
                if job.reference is not None:
                    merged = merged_embeddings(reports, mappings, REFERENCE_SAMPLES_PER_TRACK)
                    chosen = _match_reference(job.reference, _Analysis(faces=joined, embeddings=merged), analyzer)
                selected, holds = plan_swaps(joined, job.face, chosen_track=chosen, max_gap=int(job.option("hold_frames")))
                plans = {c.number: ray.put(key.seal(plan_for(c, m, selected, holds), f"plan {c.number}")) for c, m in zip(chunks, mappings)}
                del reports, joined, selected, holds
                _authorize(job, vault, again=True)  # a revocation meanwhile stops here, before the costly half
                planned = time.monotonic()
                swapped = pool.run(chunks, "swapping", total, lambda actor, chunk: actor.swap.options(num_returns=2).remote(
                    chunk, plans[chunk.number], analysed[chunk.number][1]))
                del analysed, plans
                joining = time.monotonic()
                done = [key.open(ray.get(swapped[c.number][0]), f"done {c.number}") for c in chunks]
                pieces = (key.open(ray.get(swapped.pop(c.number)[1]), f"piece {c.number}") for c in chunks)  # one at a time here
                frames = media.join_video(pieces, destination, audio_from=job.target)
                finished = time.monotonic()
            finally:
                pool.close()
        if frames != total or sum(d.frames for d in done) != total:
            raise LikenessError(f"{job.target}: the chunks hold {frames} frames, the target {total}; nothing was written")
        notes = {"executor": "ray", "chunks": len(chunks), "workers": pool.size, "lead_in_frames": lead_in,
                 "cluster_s": {"start": round(opened - started, 2), "analyse": round(planned - opened, 2),
                               "swap": round(joining - planned, 2), "join": round(finished - joining, 2)}}
        return FrameResult(frames, SwapTally.combine([d.tally for d in done]), tuple(p for d in done for p in d.prints), notes)

    def _slots(self, ray: Any, gpus: bool) -> int:
        resources = ray.cluster_resources()
        have = int(resources.get("GPU" if gpus else "CPU", 0))
        if gpus and have == 0:
            raise InputError("--device cuda: the Ray cluster has no GPU")
        if self.workers is not None:
            if self.workers < 1:
                raise InputError("the ray executor needs at least one worker")
            return self.workers
        return max(1, have)


@contextmanager
def _bars(enabled: bool, observe: Observer, name: str) -> Iterator[Observer]:
    """``observe``, also drawing a bar per stage on stderr (a terminal's only), as chunks finish."""
    if not enabled:
        yield observe
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, disable=not console.is_terminal) as bar:

        def both(stage: str, frame: int, frames: int | None) -> None:
            observe(stage, frame, frames)
            if stage in ("analysing", "swapping"):
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"{stage} {name} on the cluster", total=frames)
                bar.update(tasks[stage], completed=frame)

        yield both


def _bundle(work: FrameWork, faceset: Any, executor: RayExecutor, vault: Any, index: media.VideoIndex | None) -> Any:
    from likeness.render.cluster_worker import Bundle

    if work.job.engine == "autoencoder":
        # The model is chosen and checked here (the identity's, its grant not revoked); its weights travel sealed.
        payload, meta = swap.make_engine("autoencoder", vault=vault, model=executor.model, device="cpu").model_payload(faceset)
        return Bundle(work, faceset, "autoencoder", {"payload": payload, "meta": meta, "device": executor.device}, index)
    return Bundle(work, faceset, work.job.engine, {}, index)


@contextmanager
def _connected(address: str | None) -> Iterator[Any]:
    """Ray, connected: to the caller's connection when there is one, else to ``address``, else to a
    local cluster started here in a private temporary folder (spilled objects included), removed after."""
    try:
        import ray
    except ImportError:
        raise InputError("the ray executor needs Ray (pip install ray)") from None
    if ray.is_initialized():
        yield ray
        return
    temp, lock = _private_folder() if address is None else (None, None)
    try:
        try:
            if temp is not None:
                ray.init(address="local", _temp_dir=str(temp), object_spilling_directory=str(temp / "spill"), include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InputError(f"cannot reach the Ray cluster {address or '(local)'}: {exc}") from None
        try:
            yield ray
        finally:
            ray.shutdown()
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
            os.close(lock)  # type: ignore[arg-type]


def _private_folder() -> tuple[Path, int]:
    """A new folder for a local cluster, locked for this process's life; folders of local clusters
    whose driver was killed (their lock free, their Ray processes gone with it) are removed first."""
    for folder in Path(tempfile.gettempdir()).glob(f"{LOCAL_FOLDER_PREFIX}*"):
        try:
            fd = os.open(folder / "lock", os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue  # being made right now, or not ours
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(folder, ignore_errors=True)
        except BlockingIOError:
            pass  # a render is using it
        finally:
            os.close(fd)
    folder = Path(tempfile.mkdtemp(prefix=LOCAL_FOLDER_PREFIX))
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return folder, fd


class _Pool:
    """The render's actors, each opened with the render key, and the loop that hands them chunks."""

    def __init__(self, ray: Any, key: RenderKey, bundle: Any, size: int, *, gpus: bool, observe: Observer) -> None:
        from likeness.render.cluster_worker import ChunkWorker

        self.ray, self.key, self.bundle, self.size, self.observe = ray, key, bundle, size, observe
        hooks = {k: v for k, v in os.environ.items() if k.startswith("LIKENESS_TEST_")}  # test hooks reach the workers
        options: dict[str, Any] = {"num_cpus": 0 if gpus else 1, "num_gpus": 1 if gpus else 0,
                                   "max_restarts": MAX_CHUNK_ATTEMPTS, "max_task_retries": 0}
        if hooks:
            options["runtime_env"] = {"env_vars": hooks}
        self._actor_class = ray.remote(ChunkWorker).options(**options)
        self.actors: list[Any] = []
        self.attempts: dict[int, int] = {}

    def start(self) -> None:
        self.actors = [self._actor_class.remote() for _ in range(self.size)]
        self._wait([self._open(actor) for actor in self.actors], "starting")

    def _open(self, actor: Any) -> Any:
        deadline = time.monotonic() + RESTART_WAIT_S
        while True:  # an actor Ray is restarting answers "unavailable" for a moment
            try:
                public = self.ray.get(actor.public_key.remote())
                break
            except self.ray.exceptions.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise
                self.observe("reopening", 0, None)
                time.sleep(WAIT_S)
        return actor.open.remote(self.key.wrap_for(public), self.bundle)

    def run(self, chunks: list[Chunk], stage: str, total: int, submit: Callable[[Any, Chunk], Any]) -> dict[int, Any]:
        """``submit(actor, chunk)`` for every chunk, as actors free up; returns each chunk's refs.

        ``submit`` returns a list of refs: the first, small, is fetched to check the chunk (the
        others, its bulk, stay in the object store). A chunk whose
        worker died goes back to the queue (its worker restarted by Ray and opened again).
        """
        ray = self.ray
        queue, idle = deque(chunks), list(self.actors)
        running: dict[Any, tuple[Any, Chunk, Any]] = {}
        results: dict[int, Any] = {}
        done_frames = 0
        self.observe(stage, 0, total)
        while queue or running:
            while queue and idle:
                actor, chunk = idle.pop(), queue.popleft()
                refs = submit(actor, chunk)
                running[refs[0]] = (actor, chunk, refs)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_S)
            for ref in ready:
                actor, chunk, refs = running.pop(ref)
                try:
                    self._check(ref)
                except ray.exceptions.RayActorError as exc:
                    self._lost(actor, chunk, exc)
                    queue.appendleft(chunk)
                    idle.append(actor)
                    continue
                results[chunk.number] = refs
                done_frames += chunk.frames
                idle.append(actor)
            self.observe(stage, done_frames, total)  # a cancel raises here
        return results

    def _check(self, ref: Any) -> None:
        """Raise the worker's own error (one line) for a failed chunk; RayActorError passes through."""
        ray = self.ray
        try:
            ray.get(ref)
        except ray.exceptions.RayActorError:
            raise
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, LikenessError):
                raise type(cause)(str(cause)) from None
            raise LikenessError(f"a chunk failed on its worker: {type(cause).__name__ if cause else ''} {cause or exc}") from None

    def _lost(self, actor: Any, chunk: Chunk, exc: Exception) -> None:
        attempts = self.attempts[chunk.number] = self.attempts.get(chunk.number, 0) + 1
        if attempts >= MAX_CHUNK_ATTEMPTS:
            raise LikenessError(f"chunk {chunk.number} (frames {chunk.first}-{chunk.stop - 1}) lost its worker "
                                f"{attempts} times; nothing was written") from None
        log.warning("chunk %d lost its worker (%s); giving it again to the worker Ray restarted", chunk.number, type(exc).__name__)
        try:
            self._wait([self._open(actor)], "reopening")
        except self.ray.exceptions.RayActorError:
            raise LikenessError("a worker died and Ray did not restart it; nothing was written") from None

    def _wait(self, refs: list[Any], stage: str) -> None:
        pending = list(refs)
        while pending:
            ready, pending = self.ray.wait(pending, num_returns=len(pending), timeout=WAIT_S)
            for ref in ready:
                self._check(ref)
            self.observe(stage, 0, None)

    def close(self) -> None:
        """Kill the actors (what they hold in memory goes with them), running chunks included."""
        for actor in self.actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
