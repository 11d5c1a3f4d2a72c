"""``/avatars``: an organisation exports the licensed 3D face of an identity under its own ``game`` grant.

The export is checked before it is queued (a grant without the ``game`` scope, or of another
organisation, is 403 and audited); a worker runs ``render.avatar.export_avatar``, which checks
consent again, tags the file and uses the quota only when the GLB exists. The job is watched
like any job (``/jobs/{id}``, ``/jobs/{id}/events``); the GLB is an output like any render
(``/outputs/{id}/download``), and its C2PA manifest, which lies beside it, is
``/avatars/{output}/content-credentials``.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from likeness import consent
from likeness.studio.deps import kind, logged_in, vault_of
from likeness.studio.problems import Problem, consent_refused
from likeness.studio.routers.outputs import downloadable
from likeness.studio.routers.uploads import studio_dir
from likeness.studio.views import job_view
from likeness.vault import jobs as queue
from likeness.vault.accounts import Account

router = APIRouter(tags=["avatars"])
TEXTURES = (1024, 2048, 4096)


class NewAvatar(BaseModel):
    identity: str = Field(max_length=200)
    grant: str = Field(max_length=36)
    texture: int = Field(default=2048, description="texture size: 1024, 2048 or 4096")
    expressions: bool = Field(default=False, description="add the ARKit-named morph targets the faceset shows")


@router.post("/avatars", status_code=201)
def submit(body: NewAvatar, request: Request, me: Account = Depends(kind("organisation"))) -> dict:
    """Queue an avatar export (a job of kind ``avatar``)."""
    vault = vault_of(request)
    if body.texture not in TEXTURES:
        raise Problem(422, f"texture {body.texture}: use one of {', '.join(map(str, TEXTURES))}")
    decision = consent.check(vault, consent.Request(body.identity, body.grant, "game", "avatar", me.organisation))
    if not decision.allowed:
        vault.audit("job.refused", {"organisation": me.organisation, "by": me.username, "grant": body.grant, "kind": "avatar",
                                    "identity": body.identity, "reasons": list(decision.reasons)[:5]})
        raise consent_refused(decision, me.organisation, body.grant)
    job = queue.enqueue(vault, organisation=me.organisation, account=me.username, identity=body.identity, grant_id=body.grant,
                        target=f"faceset:{body.identity}", output=str(studio_dir(request, "outputs") / f"{uuid.uuid4()}.glb"),
                        options={"kind": "avatar", "texture": body.texture, "expressions": body.expressions})
    return job_view(job)


@router.get("/avatars/{output_id}/content-credentials")
def content_credentials(output_id: str, request: Request, me: Account = Depends(logged_in)) -> FileResponse:
    """The signed C2PA manifest of an avatar output (a sidecar: the SDK cannot embed one in a GLB)."""
    found, path = downloadable(request, output_id, me)
    sidecar = path.with_suffix(".c2pa")
    if path.suffix != ".glb" or not sidecar.is_file():
        raise Problem(404, f"output {output_id} has no C2PA sidecar (only avatars have one)")
    return FileResponse(sidecar, media_type="application/c2pa", filename=f"likeness-{found.render_id}.c2pa",
                        headers={"Cache-Control": "no-store"})
