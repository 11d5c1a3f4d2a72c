"""The studio's durable render queue, on SQLite and PostgreSQL: atomic claims by racing worker
processes, cancel within a second, a worker killed with SIGKILL (re-queued once, then failed with
the reason, nothing left behind), N workers in parallel with an exact quota, and a real render
through the worker (a revocation while it runs writes nothing)."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from likeness.studio.worker import JobCancelled, run_worker
from likeness.vault import jobs
from test_vault_kit import analyzer, astronaut_item, settings, variants, vault  # noqa: F401 - shared fixtures

HEARTBEAT_TIMEOUT_S = 2.0

WORKER_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from likeness.settings import Settings
    from likeness.studio.worker import run_worker
    from likeness.vault import open_vault

    home, url, mode, log_path, go = sys.argv[1:6]
    settings = Settings(home=Path(home), database_url=url, passphrase="vault pass", talent_passphrase="t")

    def note(**data):
        with open(log_path, "a") as f:  # one short O_APPEND write per line: lines never interleave
            f.write(json.dumps(dict(data, pid=os.getpid(), t=time.time())) + "\\n")

    def steps(job, report):
        count = int(job.options.get("steps", 4))
        for i in range(count):
            report("swapping", i + 1, count)
            time.sleep(float(job.options.get("step_s", 0.05)))

    def busy(job, vault, report):
        note(event="start", job=job.id, attempts=job.attempts)
        steps(job, report)
        note(event="end", job=job.id)

    def quota(job, vault, report):  # what render() does with consent, minus the pixels
        from likeness.consent import Request, authorize, take
        note(event="start", job=job.id, attempts=job.attempts)
        decision = authorize(vault, Request(job.identity, job.grant_id, "film", "render", job.organisation))
        decision.require()
        steps(job, report)
        n = take(vault, decision, use="render", data={"job": job.id}).n
        note(event="end", job=job.id, n=n)
        return None

    def stuck(job, vault, report):  # a render's hidden folder, half written, then a frame loop until killed
        from likeness.render.output import PendingOutput, pending_registry, plan_output
        plan = plan_output(Path(job.output), Path(job.target), "image")
        with PendingOutput(plan, registry=pending_registry(vault.settings.home)) as pending:
            pending.encoded.write_bytes(b"half a render")
            note(event="start", job=job.id, attempts=job.attempts, folder=str(pending.folder))
            frame = 0
            while True:
                frame += 1
                report("swapping", frame, 10_000)
                time.sleep(0.05)

    runner = {"busy": busy, "quota": quota, "stuck": stuck}[mode]
    worker_id = "child-%%d" %% os.getpid()
    with open_vault(settings) as vault:
        note(event="ready")
        while not os.path.exists(go):
            time.sleep(0.01)
        if mode == "stuck":  # runs until killed
            run_worker(vault, worker_id=worker_id, runner=runner, poll_s=0.05, heartbeat_timeout_s=%(timeout)r)
        while run_worker(vault, worker_id=worker_id, once=True, runner=runner, poll_s=0.05, heartbeat_timeout_s=%(timeout)r):
            pass  # until the queue is empty
    note(event="exit")
    """ % {"timeout": HEARTBEAT_TIMEOUT_S}
)


def _enqueue(vault, tmp_path: Path, *, organisation: str = "demo-studio", identity: str = "eileen", grant_id: str = "g-1",
             name: str = "out", **options) -> jobs.Job:
    target = tmp_path / "target.png"
    if not target.exists():
        target.write_bytes(b"not really a picture")
    return jobs.enqueue(vault, organisation=organisation, account="bob", identity=identity, grant_id=grant_id,
                        target=str(target), output=str(tmp_path / "out" / f"{name}.png"), options=options)


class Workers:
    """Worker processes running WORKER_SCRIPT, started together (a barrier file), with their log."""

    def __init__(self, settings, tmp_path: Path, mode: str, count: int) -> None:
        self.log = tmp_path / f"worker-{mode}-{time.monotonic_ns()}.log"
        self.log.touch()
        self.go = tmp_path / f"go-{time.monotonic_ns()}"
        self.procs = [
            subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(settings.home), settings.database_url, mode, str(self.log), str(self.go)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(count)
        ]
        self.wait_for(lambda lines: sum(e["event"] == "ready" for e in lines) >= count, "workers ready")
        self.go.touch()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def wait_for(self, predicate, what: str, timeout: float = 60.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if predicate(lines):
                return lines
            for proc in self.procs:
                if proc.poll() not in (None, 0):
                    raise AssertionError(f"a worker died waiting for {what}: {proc.stderr.read().decode()[-1500:]}")
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}: {self.lines()}")

    def join(self, timeout: float = 60.0) -> None:
        for proc in self.procs:
            _, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err.decode()[-1500:]


def _wait(predicate, what: str, timeout: float = 20.0, every: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _events(vault, prefix: str = "job.") -> list[tuple[str, dict]]:
    return [(e.event, e.data) for e in vault.audit_entries() if e.event.startswith(prefix)]


# -- the queue's own rules ------------------------------------------------------------------------


def test_queue_claim_heartbeat_finish_and_listing(vault, tmp_path):
    first = _enqueue(vault, tmp_path, name="a", scope="film")
    second = _enqueue(vault, tmp_path, organisation="other-studio", name="b")
    assert (first.state, first.attempts, first.options, first.cancel_requested) == ("queued", 0, {"scope": "film"}, False)
    assert [j.id for j in jobs.list_jobs(vault)] == [second.id, first.id]  # newest first
    assert [j.id for j in jobs.list_jobs(vault, organisation="demo-studio")] == [first.id]
    assert [j.id for j in jobs.list_jobs(vault, limit=1, offset=1)] == [first.id]

    claimed = jobs.claim(vault, "w1")
    assert (claimed.id, claimed.state, claimed.worker, claimed.attempts) == (first.id, "running", "w1", 1)  # oldest first
    assert claimed.heartbeat is not None
    assert jobs.heartbeat(vault, first.id, "w1", stage="swapping", frame=3, frames=10, fps=12.5, eta_s=0.56) is False
    got = jobs.get(vault, first.id)
    assert (got.stage, got.frame, got.frames, got.fps, got.eta_s) == ("swapping", 3, 10, 12.5, 0.56)
    assert jobs.heartbeat(vault, first.id, "w2", stage="swapping", frame=4, frames=10) is True  # not w2's job: stop
    assert jobs.finish(vault, first.id, "w2", state="succeeded") is None
    done = jobs.finish(vault, first.id, "w1", state="succeeded", render_id="00000000000000ab")
    assert (done.state, done.render_id, done.error) == ("succeeded", "00000000000000ab", None)
    assert jobs.heartbeat(vault, first.id, "w1", stage="late", frame=10, frames=10) is True  # finished: stop
    assert jobs.claim(vault, "w1").id == second.id
    assert jobs.claim(vault, "w1") is None
    assert jobs.get(vault, "no-such-job") is None

    assert [event for event, _ in _events(vault)] == ["job.queue", "job.queue", "job.finish"]
    queued = _events(vault)[0][1]
    assert (queued["job"], queued["account"], queued["organisation"]) == (first.id, "bob", "demo-studio")
    assert vault.verify_audit().ok


def test_cancel_of_a_queued_job_is_at_once_and_a_running_one_is_flagged(vault, tmp_path):
    queued = _enqueue(vault, tmp_path, name="a")
    running = _enqueue(vault, tmp_path, name="b")
    assert jobs.request_cancel(vault, queued.id, "carol").state == "cancelled"
    assert jobs.claim(vault, "w1").id == running.id  # the cancelled one is never claimed
    flagged = jobs.request_cancel(vault, running.id, "carol")
    assert (flagged.state, flagged.cancel_requested) == ("running", True)
    assert jobs.heartbeat(vault, running.id, "w1", stage="swapping", frame=1, frames=2) is True
    cancels = [data for event, data in _events(vault) if event == "job.cancel"]
    assert [(c["job"], c["by"], c["was"]) for c in cancels] == [(queued.id, "carol", "queued"), (running.id, "carol", "running")]


def test_reap_requeues_once_then_fails_with_the_reason(vault, tmp_path):
    job = _enqueue(vault, tmp_path)
    jobs.claim(vault, "w1")
    assert jobs.reap(vault, timeout_s=60) == []  # fresh heartbeat: left alone
    time.sleep(0.05)
    [requeued] = jobs.reap(vault, timeout_s=0.01)
    assert (requeued.state, requeued.worker, requeued.attempts) == ("queued", None, 1)
    assert jobs.claim(vault, "w2").attempts == 2
    time.sleep(0.05)
    [failed] = jobs.reap(vault, timeout_s=0.01)
    assert (failed.state, failed.error) == ("failed", "the worker stopped answering (heartbeat lost twice)")
    assert jobs.claim(vault, "w3") is None
    assert [event for event, _ in _events(vault)] == ["job.queue", "job.requeue", "job.finish"]
    assert jobs.get(vault, job.id).state == "failed"


# -- workers ---------------------------------------------------------------------------------------


def test_two_worker_processes_claim_each_job_once(vault, settings, tmp_path):
    queued = [_enqueue(vault, tmp_path, name=f"j{i}", steps=2, step_s=0.02) for i in range(5)]
    workers = Workers(settings, tmp_path, "busy", 2)
    workers.join()
    starts = {line["job"]: line["pid"] for line in workers.lines() if line["event"] == "start"}
    assert len(starts) == sum(line["event"] == "start" for line in workers.lines())  # none twice
    assert sorted(starts) == sorted(j.id for j in queued)  # every job run
    for job in queued:
        got = jobs.get(vault, job.id)
        assert (got.state, got.attempts, got.worker) == ("succeeded", 1, f"child-{starts[job.id]}")


def test_cancel_of_a_running_job_is_honoured_within_a_second(vault, tmp_path):
    job = _enqueue(vault, tmp_path)
    seen: dict[str, object] = {}

    def runner(job, vault, report):
        try:
            for i in range(2000):
                report("swapping", i + 1, 2000)
                time.sleep(0.02)
        except JobCancelled:
            seen["stopped"] = time.monotonic()
            raise

    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(vault,), daemon=True,
                              kwargs=dict(runner=runner, stop=stop, poll_s=0.05, heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S))
    thread.start()
    try:
        _wait(lambda: (jobs.get(vault, job.id).frame or 0) >= 5, "progress")
        running = jobs.get(vault, job.id)
        assert running.state == "running" and running.frames == 2000 and running.fps and running.fps > 5 and running.eta_s > 10
        asked = time.monotonic()
        jobs.request_cancel(vault, job.id, "carol")
        cancelled = _wait(lambda: (j := jobs.get(vault, job.id)).state == "cancelled" and j, "the cancel", timeout=5)
        took = time.monotonic() - asked
    finally:
        stop.set()
        thread.join(timeout=10)
    assert took < 1.0, f"the cancel took {took:.2f} s"
    assert seen["stopped"] - asked < 1.0
    assert cancelled.frame < 2000
    assert [(e, d.get("state")) for e, d in _events(vault)][-2:] == [("job.cancel", None), ("job.finish", "cancelled")]


def test_a_killed_worker_leaves_nothing_its_job_is_requeued_once_then_failed(vault, settings, tmp_path):
    job = _enqueue(vault, tmp_path)
    out = Path(job.output).parent
    out.mkdir()
    registry = settings.home / "pending"
    for attempt in (1, 2):
        workers = Workers(settings, tmp_path, "stuck", 1)
        lines = workers.wait_for(lambda ls: any(e["event"] == "start" and e["attempts"] == attempt for e in ls), f"attempt {attempt}")
        folder = Path(next(e["folder"] for e in lines if e["event"] == "start" and e["attempts"] == attempt))
        assert folder.is_dir() and list(registry.glob("*.json"))  # a render's hidden folder, mid-job
        running = jobs.get(vault, job.id)
        assert (running.state, running.attempts) == ("running", attempt)
        os.kill(workers.procs[0].pid, signal.SIGKILL)
        workers.procs[0].wait()
        if attempt == 1:
            assert not Path(job.output).exists()
    # A worker that finds the job's heartbeat gone stale fails it (second loss) and sweeps what was left.
    time.sleep(HEARTBEAT_TIMEOUT_S + 0.2)
    assert run_worker(vault, once=True, runner=lambda *_: pytest.fail("nothing is left to run"),
                      heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S) == 0
    failed = jobs.get(vault, job.id)
    assert (failed.state, failed.attempts, failed.error) == ("failed", 2, "the worker stopped answering (heartbeat lost twice)")
    assert list(out.iterdir()) == []  # no output, no hidden render folder
    assert list(registry.glob("*.json")) == []
    events = [(e, d.get("state")) for e, d in _events(vault)]
    assert events == [("job.queue", None), ("job.requeue", None), ("job.finish", "failed")]
    assert vault.verify_audit().ok


@pytest.mark.parametrize("settings", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_workers_on_postgres_render_in_parallel_and_the_quota_stays_exact(vault, settings, tmp_path, astronaut_item):
    """PostgreSQL only: on SQLite every write waits for the one writer, so workers take turns."""
    assert vault.engine.dialect.name == "postgresql"
    from likeness.consent import create_grant

    vault.enrol("eileen", variants(astronaut_item, 1), talent_passphrase="t")
    grant = create_grant(vault, "eileen", grantee="demo-studio", scopes=["film"], expires="2030-01-01", max_renders=3, talent_passphrase="t")
    queued = [_enqueue(vault, tmp_path, grant_id=grant.id, name=f"j{i}", steps=12, step_s=0.05) for i in range(5)]
    workers = Workers(settings, tmp_path, "quota", 2)
    workers.join()
    lines = workers.lines()
    spans = {}
    for line in lines:
        if line["event"] in ("start", "end"):
            spans.setdefault(line["job"], {})[line["event"]] = (line["t"], line["pid"])
    done = [(s["start"][0], s["end"][0], s["start"][1]) for s in spans.values() if "end" in s]
    assert any(a0 < b1 and b0 < a1 and pa != pb for a0, a1, pa in done for b0, b1, pb in done), f"no two jobs overlapped: {done}"
    states = sorted(jobs.get(vault, j.id).state for j in queued)
    assert states == ["failed", "failed", "succeeded", "succeeded", "succeeded"]
    assert all("quota" in (jobs.get(vault, j.id).error or "quota") for j in queued), [jobs.get(vault, j.id).error for j in queued]
    assert sorted(line["n"] for line in lines if line["event"] == "end") == [1, 2, 3]
    report, facts = vault.chain_facts()
    assert report.ok and facts.uses[grant.id] == [1, 2, 3]
    assert vault.grant_record(grant.id).used == 3


# -- a real render through the worker ------------------------------------------------------------


def _render_has_observer() -> bool:
    from likeness.render import render

    return "observer" in inspect.signature(render).parameters


@pytest.mark.skipif(not _render_has_observer(), reason="render() takes no observer yet (the studio's pipeline change)")
def test_a_real_render_through_the_worker_and_a_revocation_while_it_runs(vault, tmp_path, astronaut_item, analyzer):
    from skimage import data

    from likeness.consent import create_grant, revoke_grant
    from likeness.studio.worker import render_runner

    vault.enrol("eileen", variants(astronaut_item, 1), talent_passphrase="t")
    grant = create_grant(vault, "eileen", grantee="demo-studio", scopes=["film"], expires="2030-01-01", talent_passphrase="t")
    target = str(Path(data.data_dir) / "astronaut.png")
    (tmp_path / "out").mkdir()
    stages: list[str] = []

    def runner(job, vault, report):
        seen: set[str] = set()

        def watch(stage, frame, frames):
            stages.append(stage)
            if job.options.get("revoke_at") == stage and stage not in seen:
                revoke_grant(vault, job.grant_id, talent_passphrase="t", reason="changed my mind")
            seen.add(stage)
            report(stage, frame, frames)

        return render_runner(job, vault, watch, analyzer=analyzer)

    ok = jobs.enqueue(vault, organisation="demo-studio", account="bob", identity="eileen", grant_id=grant.id, target=target,
                      output=str(tmp_path / "out" / "ok.png"), options={"scope": "film", "crf": 20})
    assert run_worker(vault, once=True, runner=runner) == 1
    done = jobs.get(vault, ok.id)
    assert done.state == "succeeded", done.error
    assert Path(done.output).is_file() and vault.render(int(done.render_id, 16)).n == 1
    assert {"analysing", "swapping", "sealing"} <= set(stages)

    revoked = jobs.enqueue(vault, organisation="demo-studio", account="bob", identity="eileen", grant_id=grant.id, target=target,
                           output=str(tmp_path / "out" / "revoked.png"), options={"scope": "film", "revoke_at": "sealing"})
    assert run_worker(vault, once=True, runner=runner) == 1
    failed = jobs.get(vault, revoked.id)
    assert failed.state == "failed" and "revoked" in failed.error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ok.png"]  # nothing written, no hidden folder
    assert vault.grant_record(grant.id).used == 1


def test_a_resident_worker_loads_the_face_models_once_before_its_first_job(vault, tmp_path, monkeypatch):
    import likeness.studio.worker as worker_module

    seen: list[tuple[object, bool]] = []
    stop = threading.Event()

    def render_runner(job, vault, report, *, analyzer):  # the default runner's render, minus the pixels
        seen.append((analyzer, analyzer.loaded))
        if len(seen) == 2:
            stop.set()

    monkeypatch.setattr(worker_module, "render_runner", render_runner)
    first, second = _enqueue(vault, tmp_path, name="a"), _enqueue(vault, tmp_path, name="b")
    assert run_worker(vault, stop=stop, poll_s=0.05) == 2
    (one, loaded_first), (other, _) = seen
    assert loaded_first, "the first queued job waited for the models to load"
    assert one is other, "each job got its own FaceAnalyzer"
    assert [jobs.get(vault, j.id).state for j in (first, second)] == ["succeeded", "succeeded"]
