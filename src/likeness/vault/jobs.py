"""The studio's durable render queue: a job is a row, so it outlives the process that runs it.

States: ``queued`` -> ``running`` (one worker, claimed atomically) -> ``succeeded`` | ``failed``
| ``cancelled``. A running job carries its worker's id and a heartbeat; :func:`reap` gives a job
whose heartbeat stopped back to the queue once, then fails it with the reason, so a worker killed
mid-job neither blocks its job for ever nor retries it for ever.

Claiming takes the oldest queued row inside one transaction: on PostgreSQL with
``SELECT ... FOR UPDATE SKIP LOCKED`` (N workers never wait on each other and never take the
same row); on SQLite every transaction already holds the write lock (``BEGIN IMMEDIATE``, see
``database``), so claimers simply take turns. Heartbeats are one ``UPDATE ... RETURNING`` and
never touch the audit chain (its head lock is held while a render seals); queueing, cancelling
and the end of a job are audited.

The queue decides nothing about consent: the render a worker runs asks for it, as every render
does, and a revocation that arrives meanwhile is caught when the use is taken.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from likeness.errors import InputError
from likeness.vault import audit as audit_log
from likeness.vault import schema

if TYPE_CHECKING:
    from likeness.vault.store import Vault

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATES = ("succeeded", "failed", "cancelled")
_jobs = schema.jobs


@dataclass(frozen=True)
class Job:
    """One render job as stored. ``frames``/``fps``/``eta_s`` are None until the worker knows them;
    ``render_id`` is the 16-hex-digit id of the output once it exists."""

    id: str
    organisation: str
    account: str
    identity: str
    grant_id: str
    target: str
    output: str
    options: dict[str, Any]
    state: str
    stage: str
    frame: int
    frames: int | None
    fps: float | None
    eta_s: float | None
    worker: str | None
    heartbeat: str | None
    attempts: int
    error: str | None
    render_id: str | None
    cancel_requested: bool
    created: str
    updated: str

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (what the studio's API shows)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _job(row: Any) -> Job:
    return Job(
        id=row.id, organisation=row.organisation, account=row.account, identity=row.identity, grant_id=row.grant_id,
        target=row.target, output=row.output, options=json.loads(row.options), state=row.state, stage=row.stage,
        frame=int(row.frame), frames=row.frames, fps=row.fps, eta_s=row.eta_s, worker=row.worker, heartbeat=row.heartbeat,
        attempts=int(row.attempts), error=row.error, render_id=row.render_id, cancel_requested=bool(row.cancel_requested),
        created=row.created, updated=row.updated,
    )


def _now() -> str:
    return audit_log.now_iso()


def _iso(moment: datetime) -> str:
    """The same fixed-width UTC form as :func:`audit.now_iso`, so stored times compare as strings."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _row(connection: Connection, job_id: str, *, lock: bool = False) -> Any:
    query = select(_jobs).where(_jobs.c.id == job_id)
    return connection.execute(query.with_for_update() if lock else query).one_or_none()


def _audit_data(job: Job, **extra: Any) -> dict[str, Any]:
    return dict({"job": job.id, "organisation": job.organisation, "account": job.account, "identity": job.identity,
                 "grant": job.grant_id}, **extra)


def enqueue(vault: "Vault", *, organisation: str, account: str, identity: str, grant_id: str, target: str, output: str,
            options: dict[str, Any] | None = None) -> Job:
    """Queue a render (audited ``job.queue``); nothing is checked here that the render checks again."""
    for name, value in (("organisation", organisation), ("account", account), ("identity", identity), ("grant_id", grant_id),
                        ("target", target), ("output", output)):
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"a job needs a {name}")
    options = dict(options or {})
    try:
        encoded = audit_log.canonical(options).decode("utf-8")
    except (TypeError, ValueError):
        raise InputError("job options must be plain JSON") from None
    now = _now()
    values = dict(id=str(uuid.uuid4()), organisation=organisation, account=account, identity=identity, grant_id=grant_id,
                  target=str(target), output=str(output), options=encoded, state="queued", stage="queued", frame=0, frames=None,
                  fps=None, eta_s=None, worker=None, heartbeat=None, attempts=0, error=None, render_id=None,
                  cancel_requested=False, created=now, updated=now)
    with vault.transaction() as connection:
        connection.execute(insert(_jobs).values(**values))
        job = _job(_row(connection, values["id"]))
        vault.append(connection, "job.queue", _audit_data(job, target=job.target, output=job.output, options=options))
    return job


def claim(vault: "Vault", worker: str) -> Job | None:
    """Take the oldest queued job for ``worker`` (running, heartbeat now, one more attempt); None when none waits."""
    query = select(_jobs).where(_jobs.c.state == "queued").order_by(_jobs.c.created, _jobs.c.id).limit(1)
    if vault.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # other claimers skip this row instead of waiting on it
    with vault.transaction() as connection:  # SQLite: BEGIN IMMEDIATE, one claimer at a time
        row = connection.execute(query).one_or_none()
        if row is None:
            return None
        now = _now()
        connection.execute(
            update(_jobs).where(_jobs.c.id == row.id, _jobs.c.state == "queued").values(
                state="running", worker=worker, heartbeat=now, attempts=_jobs.c.attempts + 1, stage="starting", frame=0,
                fps=None, eta_s=None, updated=now,
            )
        )
        return _job(_row(connection, row.id))


def heartbeat(vault: "Vault", job_id: str, worker: str, *, stage: str, frame: int, frames: int | None, fps: float | None = None,
              eta_s: float | None = None) -> bool:
    """Record progress and that ``worker`` is alive; True means stop: a cancel was asked for, or the job
    is no longer this worker's running job (it was reaped and given to another)."""
    now = _now()
    statement = (
        update(_jobs)
        .where(_jobs.c.id == job_id, _jobs.c.worker == worker, _jobs.c.state == "running")
        .values(stage=str(stage)[:32], frame=int(frame), frames=frames, fps=fps, eta_s=eta_s, heartbeat=now, updated=now)
        .returning(_jobs.c.cancel_requested)
    )
    with vault.transaction() as connection:
        cancel = connection.execute(statement).scalar_one_or_none()
    return cancel is None or bool(cancel)


def finish(vault: "Vault", job_id: str, worker: str, *, state: str, error: str | None = None,
           render_id: str | None = None) -> Job | None:
    """End ``worker``'s running job (audited ``job.finish``); None when it is not (or no longer) this worker's."""
    if state not in FINAL_STATES:
        raise InputError(f"a job finishes as one of {', '.join(FINAL_STATES)}, not {state!r}")
    if error is not None and len(error) > audit_log.MAX_STRING:
        error = error[: audit_log.MAX_STRING - 1] + "…"  # the audit chain keeps no bulk text
    with vault.transaction() as connection:
        row = _row(connection, job_id, lock=True)
        if row is None or row.worker != worker or row.state != "running":
            return None
        now = _now()
        stage = "done" if state == "succeeded" else state
        connection.execute(update(_jobs).where(_jobs.c.id == job_id).values(
            state=state, stage=stage, error=error, render_id=render_id, eta_s=None if state == "succeeded" else row.eta_s,
            updated=now,
        ))
        job = _job(_row(connection, job_id))
        vault.append(connection, "job.finish", _audit_data(job, state=state, worker=worker, error=error, render_id=render_id,
                                                           attempts=job.attempts))
    return job


def request_cancel(vault: "Vault", job_id: str, account: str) -> Job:
    """Cancel a job for ``account`` (audited ``job.cancel``): a queued one at once, a running one at its
    worker's next heartbeat; a finished one is returned unchanged."""
    with vault.transaction() as connection:
        row = _row(connection, job_id, lock=True)
        if row is None:
            raise InputError(f"no job {job_id}")
        if row.state in FINAL_STATES:
            return _job(row)
        now = _now()
        if row.state == "queued":
            values: dict[str, Any] = dict(state="cancelled", stage="cancelled", cancel_requested=True, updated=now)
        else:
            values = dict(cancel_requested=True, updated=now)
        connection.execute(update(_jobs).where(_jobs.c.id == job_id).values(**values))
        job = _job(_row(connection, job_id))
        vault.append(connection, "job.cancel", _audit_data(job, by=account, was=row.state))
    return job


def get(vault: "Vault", job_id: str) -> Job | None:
    with vault.transaction() as connection:
        row = _row(connection, job_id)
    return _job(row) if row is not None else None


def list_jobs(vault: "Vault", *, organisation: str | None = None, limit: int = 50, offset: int = 0) -> list[Job]:
    """Newest first; ``organisation=None`` lists every organisation's jobs (the operator's view)."""
    query = select(_jobs).order_by(_jobs.c.created.desc(), _jobs.c.id.desc()).limit(max(0, int(limit))).offset(max(0, int(offset)))
    if organisation is not None:
        query = query.where(_jobs.c.organisation == organisation)
    with vault.transaction() as connection:
        return [_job(row) for row in connection.execute(query).all()]


def lost_reason(times: int) -> str:
    """Why a job whose worker kept dying was failed (exact words the studio shows)."""
    count = {1: "once", 2: "twice"}.get(times, f"{times} times")
    return f"the worker stopped answering (heartbeat lost {count})"


def reap(vault: "Vault", *, timeout_s: float, max_attempts: int = 2) -> list[Job]:
    """Running jobs whose heartbeat is older than ``timeout_s``: back to the queue while they have had
    fewer than ``max_attempts`` attempts, else failed with :func:`lost_reason` (a job whose cancel was
    asked for is cancelled instead). Audited; returns the jobs as changed (their workers' leftovers are
    the caller's to sweep)."""
    cutoff = _iso(datetime.now(timezone.utc) - timedelta(seconds=float(timeout_s)))
    query = select(_jobs).where(_jobs.c.state == "running", _jobs.c.heartbeat < cutoff).order_by(_jobs.c.created)
    if vault.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # a job another reaper (or its live worker) holds is left alone
    reaped = []
    with vault.transaction() as connection:
        for row in connection.execute(query).all():
            now = _now()
            if row.cancel_requested:
                values: dict[str, Any] = dict(state="cancelled", stage="cancelled", updated=now)
                event, extra = "job.finish", {"state": "cancelled", "error": "cancelled; the worker stopped answering"}
                values["error"] = extra["error"]
            elif row.attempts < max_attempts:
                values = dict(state="queued", stage="queued", worker=None, heartbeat=None, frame=0, fps=None, eta_s=None,
                              error=f"re-queued: worker {row.worker} stopped answering", updated=now)
                event, extra = "job.requeue", {"error": values["error"]}
            else:
                values = dict(state="failed", error=lost_reason(int(row.attempts)), updated=now)
                event, extra = "job.finish", {"state": "failed", "error": values["error"]}
            connection.execute(update(_jobs).where(_jobs.c.id == row.id, _jobs.c.state == "running").values(**values))
            job = _job(_row(connection, row.id))
            vault.append(connection, event, _audit_data(job, worker=row.worker, attempts=job.attempts, heartbeat=row.heartbeat, **extra))
            reaped.append(job)
    return reaped
