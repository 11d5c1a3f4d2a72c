"""The studio's render worker: reap stale jobs, claim one, run it with a heartbeat, finish it.

Run as many as the machine (or the PostgreSQL cluster) allows: claims are atomic
(``vault.jobs.claim``) and every render takes its use of the grant under the ledger's lock, so N
workers render in parallel and the quota stays exact.

A job's runner gets a ``report(stage, frame, frames)`` callable (the render's observer). It never
waits on the database: a small heartbeat thread writes the progress (at most about four times a
second, and at least every third of the heartbeat timeout while a frame takes long) and learns
there whether a cancel was asked for; the runner's next ``report`` then raises
:class:`JobCancelled`, which aborts the render with nothing written and no use taken. A worker
killed outright leaves only its hidden render folder, whose lock dies with it: the next worker's
reap re-queues the job once and sweeps that folder; after a second loss the job fails with the
reason.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from likeness.errors import LikenessError
from likeness.settings import Settings
from likeness.vault import jobs
from likeness.vault.jobs import Job
from likeness.vault.store import Vault, open_vault

log = logging.getLogger("likeness.studio.worker")

MIN_BEAT_S = 0.25  # at most ~4 heartbeats a second per worker
Report = Callable[[str, int, "int | None"], None]
Runner = Callable[[Job, Vault, Report], Any]
VaultSource = Union[Settings, Vault, Callable[[], Vault]]


class JobCancelled(LikenessError):
    """The job's cancel was asked for (or the job was taken from this worker): stop, write nothing."""


def new_worker_id() -> str:
    """host:pid:random, so a log line or a job row names the process that ran it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Progress:
    """The ``report`` a runner calls, and the heartbeat thread behind it (see the module docstring)."""

    def __init__(self, vault: Vault, job: Job, worker: str, *, every_s: float) -> None:
        self._vault, self.job, self.worker = vault, job, worker
        self._every = max(MIN_BEAT_S, float(every_s))
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"stage": "starting", "frame": 0, "frames": None, "fps": None, "eta_s": None}
        self._rate_start: tuple[str, int, float] | None = None  # (stage, frame, time) fps is measured from
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self.stop_asked = False  # a cancel, or the job is no longer ours
        self._thread = threading.Thread(target=self._beat_loop, name=f"likeness-heartbeat-{job.id[:8]}", daemon=True)

    def start(self) -> "Progress":
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        self._dirty.set()
        self._thread.join(timeout=30)

    def __call__(self, stage: str, frame: int, frames: int | None = None) -> None:
        """Note the progress; raise :class:`JobCancelled` when the last heartbeat said stop."""
        if self.stop_asked:
            raise JobCancelled(f"job {self.job.id} was cancelled")
        now = time.monotonic()
        with self._lock:
            start = self._rate_start
            if start is None or start[0] != stage or frame < start[1]:
                self._rate_start = start = (stage, int(frame), now)
            fps = eta = None
            if now > start[2] and frame > start[1]:
                fps = (frame - start[1]) / (now - start[2])
                eta = (frames - frame) / fps if frames else None
            self._state = {"stage": stage, "frame": int(frame), "frames": frames, "fps": fps, "eta_s": eta}
        self._dirty.set()

    def _beat_loop(self) -> None:
        last = 0.0
        while not self._closed.is_set():
            self._dirty.wait(self._every)
            wait = last + MIN_BEAT_S - time.monotonic()
            if wait > 0 and self._closed.wait(wait):
                break
            self._dirty.clear()
            with self._lock:
                state = dict(self._state)
            try:
                stop = jobs.heartbeat(self._vault, self.job.id, self.worker, **state)
            except LikenessError as exc:  # the database is away: the reaper decides if it stays away too long
                log.warning("job %s: heartbeat failed: %s", self.job.id, exc)
                stop = False
            last = time.monotonic()
            if stop:
                self.stop_asked = True


def sweep_leftovers(vault: Vault, job: Job) -> None:
    """Remove what a killed render of ``job`` left beside its output (only folders whose lock is free);
    a sealed file the vault recorded is moved to its name instead, as ``likeness doctor`` does."""
    from likeness.render.output import pending_registry, sweep_stale

    try:
        sweep_stale(Path(job.output).parent, is_recorded=lambda sha: vault.render_by_output(sha) is not None,
                    registry=pending_registry(vault.settings.home))
    except OSError as exc:
        log.warning("job %s: cannot sweep %s: %s", job.id, Path(job.output).parent, exc)


def _already_rendered(vault: Vault, job: Job) -> str | None:
    """The render id when an earlier attempt of ``job`` got as far as a recorded output (it died after the
    use was taken): the job then succeeded, and must not take a second use."""
    from likeness.render.output import sha256_file

    output = Path(job.output)
    if not output.is_file():
        return None
    record = vault.render_by_output(sha256_file(output))
    if record is None or record.grant_id != job.grant_id or record.identity != job.identity:
        return None
    if record.time < datetime.fromisoformat(job.created).timestamp():
        return None  # an older render that happens to sit at this name
    return f"{record.render_id:016x}"


def _render_id(result: Any) -> str | None:
    value = getattr(result, "render_id", result)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:016x}"
    return value if isinstance(value, str) else None


def run_job(vault: Vault, job: Job, worker: str, runner: Runner, *, heartbeat_timeout_s: float = 30.0) -> Job | None:
    """Run one claimed job to its end and record it; None when the job was taken from this worker meanwhile."""
    progress = Progress(vault, job, worker, every_s=heartbeat_timeout_s / 3).start()
    state, error, render_id = "succeeded", None, None
    try:
        done = _already_rendered(vault, job) if job.attempts > 1 else None
        if done is not None:
            render_id = done
        else:
            render_id = _render_id(runner(job, vault, progress))
    except JobCancelled as exc:
        state, error = "cancelled", str(exc)
    except LikenessError as exc:
        state, error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad job must not kill the worker
        log.exception("job %s failed", job.id)
        state, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
    finally:
        progress.close()
    finished = jobs.finish(vault, job.id, worker, state=state, error=error, render_id=render_id)
    if finished is None:
        log.warning("job %s was taken from worker %s before it finished (heartbeat lost)", job.id, worker)
    return finished


def render_runner(job: Job, vault: Vault, report: Report, *, analyzer: Any = None) -> Any:
    """The default runner: the job's render through :func:`likeness.render.render` (consent, tagging, the
    use of the grant and the record are all the pipeline's), then the output row the studio serves:
    held when the grant asks the talent to approve each output. ``analyzer``: one kept for the worker's life."""
    if job.options.get("kind") == "avatar":
        return avatar_runner(job, vault, report)
    from likeness import render as rendering
    from likeness.consent import load_grant
    from likeness.render.job import DEFAULT_OPTIONS
    from likeness.vault import deliveries

    render_job = rendering.RenderJob(
        target=job.target, output=job.output, identity=job.identity, grant_id=job.grant_id,
        scope=job.options.get("scope"), engine=job.options.get("engine", "retrieval"), face=job.options.get("face", "largest"),
        options={k: v for k, v in job.options.items() if k in DEFAULT_OPTIONS}, organisation=job.organisation,
    )
    executor = None
    if job.options.get("executor", "local") == "ray":  # which cluster is the worker's to say, never the client's
        from likeness.render.cluster import RayExecutor

        executor = RayExecutor(address=vault.settings.ray_address)
    if analyzer is None:
        from likeness.faces import FaceAnalyzer

        with FaceAnalyzer() as own:
            record = rendering.render(render_job, vault=vault, analyzer=own, progress=False, observer=report, executor=executor)
    else:
        record = rendering.render(render_job, vault=vault, analyzer=analyzer, progress=False, observer=report, executor=executor)
    if deliveries.output_of_job(vault, job.id) is None and _is_organisation(vault, job.organisation):
        grant, _ = load_grant(vault, job.grant_id)
        deliveries.add_output(vault, job_id=job.id, organisation=job.organisation, identity=job.identity, grant_id=job.grant_id,
                              render_id=f"{record.render_id:016x}", path=job.output, held=grant.approval)
    return record


def avatar_runner(job: Job, vault: Vault, report: Report) -> Any:
    """A job of kind ``avatar``: the export through :func:`likeness.render.avatar.export_avatar` (consent, tags,
    the use of the grant and the record are all its), then the output row, held when the grant asks for approval."""
    from likeness.consent import load_grant
    from likeness.render.avatar import AvatarJob, export_avatar
    from likeness.vault import deliveries

    export = AvatarJob(identity=job.identity, grant_id=job.grant_id, output=Path(job.output), texture=int(job.options.get("texture", 2048)),
                       expressions=bool(job.options.get("expressions", False)), organisation=job.organisation)
    record = export_avatar(export, vault=vault, observer=report)
    if deliveries.output_of_job(vault, job.id) is None and _is_organisation(vault, job.organisation):
        grant, _ = load_grant(vault, job.grant_id)
        deliveries.add_output(vault, job_id=job.id, organisation=job.organisation, identity=job.identity, grant_id=job.grant_id,
                              render_id=f"{record.render_id:016x}", path=job.output, held=grant.approval)
    return record


def _is_organisation(vault: Vault, name: str) -> bool:
    from likeness.vault.accounts import find_organisation

    return find_organisation(vault, name) is not None


class _Analyzer:
    """One FaceAnalyzer for the worker's life: its models load once, not per job."""

    def __init__(self) -> None:
        self._analyzer: Any = None

    def get(self) -> Any:
        if self._analyzer is None:
            from likeness.faces import FaceAnalyzer

            self._analyzer = FaceAnalyzer()
        return self._analyzer

    def warm(self) -> None:
        """Import the render pipeline and load the models before the first claim, so a queued
        image swap pays none of the start-up (about a second) of a fresh process."""
        import likeness.render  # noqa: F401 - the imports render_runner makes, paid now

        self.get().load()

    def close(self) -> None:
        if self._analyzer is not None:
            self._analyzer.close()
            self._analyzer = None


def run_worker(
    settings_or_vault_factory: VaultSource,
    *,
    worker_id: str | None = None,
    poll_s: float = 0.5,
    heartbeat_timeout_s: float = 30.0,
    once: bool = False,
    runner: Runner | None = None,
    stop: threading.Event | None = None,
    max_attempts: int = 2,
) -> int:
    """Reap, claim, run, finish, until ``stop`` is set (or, with ``once``, after one job or none waiting).

    ``settings_or_vault_factory``: Settings (the vault is opened, and closed at the end), a callable
    returning a Vault (closed at the end too), or an open Vault (the caller's to close). Returns the
    number of jobs run.
    """
    worker = worker_id or new_worker_id()
    stop = stop if stop is not None else threading.Event()
    if isinstance(settings_or_vault_factory, Vault):
        vault, owned = settings_or_vault_factory, False
    elif isinstance(settings_or_vault_factory, Settings):
        vault, owned = open_vault(settings_or_vault_factory), True
    else:
        vault, owned = settings_or_vault_factory(), True
    analyzers = _Analyzer()
    if runner is None:
        def runner(job: Job, vault: Vault, report: Report) -> Any:
            return render_runner(job, vault, report, analyzer=analyzers.get())

        if not once:  # a resident worker; `--once` runs one job at most and would load them for nothing
            analyzers.warm()

    reap_every = max(0.05, heartbeat_timeout_s / 4)
    last_reap = float("-inf")
    ran = 0
    log.info("worker %s started", worker)
    try:
        while not stop.is_set():
            if time.monotonic() - last_reap >= reap_every:
                for reaped in jobs.reap(vault, timeout_s=heartbeat_timeout_s, max_attempts=max_attempts):
                    log.warning("job %s: its worker stopped answering; now %s", reaped.id, reaped.state)
                    sweep_leftovers(vault, reaped)
                last_reap = time.monotonic()
            job = jobs.claim(vault, worker)
            if job is None:
                if once:
                    break
                stop.wait(poll_s)
                continue
            if job.attempts > 1:
                sweep_leftovers(vault, job)  # what the lost attempt left, before this one writes beside it
            run_job(vault, job, worker, runner, heartbeat_timeout_s=heartbeat_timeout_s)
            ran += 1
            if once:
                break
    finally:
        analyzers.close()
        if owned:
            vault.close()
        log.info("worker %s stopped after %d job(s)", worker, ran)
    return ran
