"""``/jobs``: an organisation queues renders under its own grants and watches them (SSE).

The job is checked before it is queued (a grant of another organisation is 403 and audited, a
target without a face is refused); the worker runs the one render pipeline, which checks
consent again and uses the quota only when the output exists.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from likeness import consent
from likeness.studio.deps import kind, logged_in, page, vault_of
from likeness.studio.problems import Problem, consent_refused
from likeness.studio.routers.uploads import studio_dir
from likeness.studio.views import job_view
from likeness.vault import deliveries
from likeness.vault import jobs as queue
from likeness.vault.accounts import Account

router = APIRouter(tags=["jobs"])
TERMINAL = ("succeeded", "failed", "cancelled")
OPTIONS = ("colour", "blend", "crf", "quality", "visible_label", "preset", "work_size")


class NewJob(BaseModel):
    upload: str = Field(max_length=36)
    identity: str = Field(max_length=200)
    grant: str = Field(max_length=36)
    scope: str | None = Field(default=None, max_length=40)
    engine: str = Field(default="retrieval", pattern="^(retrieval|autoencoder)$")
    face: str = Field(default="largest", max_length=10)
    executor: str = Field(default="local", pattern="^(local|ray)$")  # ray: the worker's Ray cluster (LIKENESS_RAY_ADDRESS)
    options: dict = Field(default_factory=dict)


def _job_for(request: Request, job_id: str, me: Account):  # noqa: ANN202
    job = queue.get(vault_of(request), job_id)
    if job is None or (me.kind != "operator" and not (me.kind == "organisation" and job.organisation == me.organisation)):
        raise Problem(404, f"no job {job_id}")
    return job


@router.post("/jobs", status_code=201)
def submit(body: NewJob, request: Request, me: Account = Depends(kind("organisation"))) -> dict:
    vault = vault_of(request)
    upload = deliveries.get_upload(vault, body.upload)
    if upload is None or upload.organisation != me.organisation:
        raise Problem(404, f"no upload {body.upload}")
    unknown = sorted(set(body.options) - set(OPTIONS))
    if unknown:
        raise Problem(422, f"unknown render option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
    decision = consent.check(vault, consent.Request(body.identity, body.grant, body.scope, "render", me.organisation))
    if not decision.allowed:
        vault.audit("job.refused", {"organisation": me.organisation, "by": me.username, "grant": body.grant,
                                    "identity": body.identity, "reasons": list(decision.reasons)[:5]})
        raise consent_refused(decision, me.organisation, body.grant)
    request.app.state.face_check(Path(upload.path))
    suffix = Path(upload.path).suffix if upload.kind == "image" else ".mp4"
    options = dict(body.options, scope=body.scope, engine=body.engine, face=body.face, executor=body.executor)
    job = queue.enqueue(vault, organisation=me.organisation, account=me.username, identity=body.identity, grant_id=body.grant,
                        target=upload.path, output=str(studio_dir(request, "outputs") / f"{uuid.uuid4()}{suffix}"),
                        options=options)
    return job_view(job)


@router.get("/jobs")
def list_jobs(request: Request, me: Account = Depends(kind("organisation", "operator")), paging: tuple[int, int] = Depends(page)) -> dict:
    offset, limit = paging
    found = queue.list_jobs(vault_of(request), organisation=me.organisation if me.kind == "organisation" else None, limit=limit, offset=offset)
    return {"items": [job_view(j) for j in found], "offset": offset, "limit": limit}


@router.get("/jobs/{job_id}")
def show_job(job_id: str, request: Request, me: Account = Depends(logged_in)) -> dict:
    data = job_view(_job_for(request, job_id, me))
    output = deliveries.output_of_job(vault_of(request), job_id)
    data["output"] = output.id if output else None
    return data


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: str, request: Request, me: Account = Depends(kind("organisation", "operator"))) -> dict:
    _job_for(request, job_id, me)
    return job_view(queue.request_cancel(vault_of(request), job_id, me.username))


@router.post("/jobs/{job_id}/retry", status_code=201)
def retry(job_id: str, request: Request, me: Account = Depends(kind("organisation"))) -> dict:
    """Queue a failed or cancelled job again, as a new job with the same inputs."""
    old = _job_for(request, job_id, me)
    if old.state not in ("failed", "cancelled"):
        raise Problem(409, f"job {job_id} is {old.state}; only failed or cancelled jobs are retried")
    output = str(Path(old.output).with_name(f"{Path(old.output).stem}-retry{Path(old.output).suffix}"))
    job = queue.enqueue(vault_of(request), organisation=old.organisation, account=me.username, identity=old.identity,
                        grant_id=old.grant_id, target=old.target, output=output, options=old.options)
    return job_view(job)


@router.get("/jobs/{job_id}/events")
async def events(job_id: str, request: Request, me: Account = Depends(logged_in)) -> StreamingResponse:
    """Server-sent events: the job as it changes (stage, frame n of N, fps, time left), until it ends."""
    _job_for(request, job_id, me)
    vault = vault_of(request)

    async def stream():  # noqa: ANN202
        last = None
        while not await request.is_disconnected():
            job = await asyncio.to_thread(queue.get, vault, job_id)
            view = json.dumps(job_view(job), default=str)
            if view != last:
                yield f"event: job\ndata: {view}\n\n"
                last = view
            if job.state in TERMINAL:
                break
            await asyncio.sleep(0.25)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
