"""``/outputs``: downloadable by the organisation that made them (once released) and by the talent
whose face they carry; held outputs wait for the talent's approval."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from likeness.studio.deps import logged_in, page, vault_of
from likeness.studio.problems import Problem
from likeness.studio.views import output_view
from likeness.vault import deliveries
from likeness.vault.accounts import Account

router = APIRouter(tags=["outputs"])


def _may_see(me: Account, output: deliveries.Output) -> bool:
    return me.kind == "operator" or me.represents(output.identity) or (me.kind == "organisation" and output.organisation == me.organisation)


def _output_for(request: Request, output_id: str, me: Account) -> deliveries.Output:
    found = deliveries.get_output(vault_of(request), output_id)
    if found is None or not _may_see(me, found):
        raise Problem(404, f"no output {output_id}")
    return found


@router.get("/outputs")
def list_outputs(request: Request, me: Account = Depends(logged_in), paging: tuple[int, int] = Depends(page)) -> dict:
    offset, limit = paging
    vault = vault_of(request)
    if me.kind == "organisation":
        found = deliveries.list_outputs(vault, organisation=me.organisation, limit=limit, offset=offset)
    elif me.kind == "talent":
        found = deliveries.list_outputs(vault, identities=list(me.identities), limit=limit, offset=offset)
    else:
        found = deliveries.list_outputs(vault, limit=limit, offset=offset)
    return {"items": [output_view(o) for o in found], "offset": offset, "limit": limit}


@router.get("/outputs/{output_id}")
def show_output(output_id: str, request: Request, me: Account = Depends(logged_in)) -> dict:
    return output_view(_output_for(request, output_id, me))


def downloadable(request: Request, output_id: str, me: Account) -> tuple[deliveries.Output, Path]:
    """The output and its file, when ``me`` may download it now (released, or the talent's own, or the operator)."""
    found = _output_for(request, output_id, me)
    if found.held and not me.represents(found.identity) and me.kind != "operator":
        raise Problem(403, "this output waits for the talent's approval (the grant asks for it)")
    path = Path(found.path)
    if not path.is_file():
        raise Problem(404, f"output {output_id} is no longer on this server")
    return found, path


@router.get("/outputs/{output_id}/download")
def download(output_id: str, request: Request, me: Account = Depends(logged_in)) -> FileResponse:
    found, path = downloadable(request, output_id, me)
    return FileResponse(path, filename=f"likeness-{found.render_id}{path.suffix}", headers={"Cache-Control": "no-store"})


@router.post("/outputs/{output_id}/approve")
def approve(output_id: str, request: Request, me: Account = Depends(logged_in)) -> dict:
    """The talent releases a held output; a second click changes nothing."""
    found = _output_for(request, output_id, me)
    if not me.represents(found.identity):
        raise Problem(403, "only the talent whose face it carries approves an output")
    deliveries.approve(vault_of(request), output_id, by=me.username)
    return output_view(deliveries.get_output(vault_of(request), output_id))  # type: ignore[arg-type]
