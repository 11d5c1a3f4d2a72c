"""``/identities``: organisations see listed identities only (an unlisted one does not exist for
them); a talent sees and lists their own; the operator sees all. ``/enrolment-reviews``: the
enrolments the firewall held (close to an enrolled face), for the operator to decide."""

from __future__ import annotations

import io
import uuid

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from likeness.studio.deps import kind, logged_in, page, vault_of
from likeness.studio.problems import Problem
from likeness.vault import licensing
from likeness.vault.ledger import held_line
from likeness.vault.accounts import Account

router = APIRouter(tags=["identities"])


class ListingBody(BaseModel):
    listed: bool
    named: bool = False
    max_active: int | None = Field(default=None, ge=0)


def visible(vault, me: Account, name: str) -> bool:  # noqa: ANN001
    """Whether ``me`` may know that identity ``name`` exists."""
    if me.kind == "operator":
        return True
    if me.kind == "talent":
        return me.represents(name)
    return name in licensing.listed_identities(vault)


def _view(vault, name: str, me: Account) -> dict:  # noqa: ANN001
    ident = vault.identity(name)
    data = {"name": ident.name, "role": ident.role, "owner_key": ident.fingerprint}
    if me.kind != "organisation":
        listing = licensing.listing(vault, name)
        data.update(created=ident.created, items=ident.items, coverage=ident.coverage.as_dict(),
                    listing={"listed": listing.listed, "named": listing.named, "max_active": listing.max_active})
    return data


@router.get("/identities")
def list_identities(request: Request, me: Account = Depends(logged_in), paging: tuple[int, int] = Depends(page)) -> dict:
    vault = vault_of(request)
    names = [i.name for i in vault.identities() if visible(vault, me, i.name)]
    offset, limit = paging
    return {"items": [_view(vault, n, me) for n in names[offset:offset + limit]], "offset": offset, "limit": limit, "total": len(names)}


@router.get("/identities/{name}")
def show_identity(name: str, request: Request, me: Account = Depends(logged_in)) -> dict:
    vault = vault_of(request)
    if not visible(vault, me, name) or name not in {i.name for i in vault.identities()}:
        raise Problem(404, f"no identity {name!r}")
    return _view(vault, name, me)


@router.put("/identities/{name}/listing")
def set_listing(name: str, body: ListingBody, request: Request, me: Account = Depends(logged_in)) -> dict:
    """A talent lists or unlists their identity, chooses to be named on verify, and caps active licences."""
    if not me.represents(name):
        raise Problem(404 if me.kind == "organisation" else 403, f"no identity {name!r} you represent")
    found = licensing.set_listing(vault_of(request), name, listed=body.listed, named=body.named, max_active=body.max_active, by=me.username)
    return {"identity": name, "listed": found.listed, "named": found.named, "max_active": found.max_active}


@router.get("/identities/{name}/history")
def history(name: str, request: Request, me: Account = Depends(logged_in), paging: tuple[int, int] = Depends(page)) -> dict:
    """Every audited use of and decision about ``name`` (listing, requests, grants, renders, revocations): the talent's to read."""
    if not (me.kind == "operator" or me.represents(name)):
        raise Problem(404, f"no identity {name!r}")
    import dataclasses

    entries = [e for e in vault_of(request).audit_entries() if e.data.get("identity") == name]
    offset, limit = paging
    return {"items": [dataclasses.asdict(e) for e in entries[offset:offset + limit]], "offset": offset, "limit": limit, "total": len(entries)}


class StatementRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    public_key: str = Field(max_length=100)  # base64 of the raw Ed25519 public key made in the browser


MAX_PHOTOS = 40
MAX_PHOTO_PIXELS = 40_000_000


@router.post("/identities/enrolment-statement")
def enrolment_statement(body: StatementRequest, request: Request, me: Account = Depends(kind("talent"))) -> dict:
    """The statement a talent signs to enrol (in their browser): it pins their key to a fresh identity id."""
    import base64

    from likeness.vault.audit import now_iso
    from likeness.vault.talent_keys import canonical_text, enrolment_statement as statement

    try:
        public = base64.b64decode(body.public_key, validate=True)
    except ValueError:
        raise Problem(422, "public_key: not base64") from None
    if len(public) != 32:
        raise Problem(422, "public_key: not a raw Ed25519 public key (32 bytes)")
    payload = statement(str(uuid.uuid4()), body.name.strip(), public, vault_of(request).vault_id, now_iso())
    return {"likeness": "to-sign/1", "payload": canonical_text(payload)}


@router.post("/identities", status_code=201)
async def enrol(request: Request, statement: str = Form(...), signature: str = Form(...), role: str = Form("self"),
                files: list[UploadFile] = File(...), me: Account = Depends(kind("talent"))) -> dict:
    """Enrol the talent from photos, with the statement their browser signed; the photos are decoded in
    memory only (never written to disk), and only the public key is kept."""
    import json

    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from likeness.vault import accounts as parties
    from likeness.vault.enrolment import collect_images

    if role not in ("self", "guardian", "estate", "agent"):
        raise Problem(422, "role must be self, guardian, estate or agent")
    if not files or len(files) > MAX_PHOTOS:
        raise Problem(422, f"send 1 to {MAX_PHOTOS} photos")
    try:
        name = str(json.loads(statement)["name"])
    except (ValueError, KeyError, TypeError):
        raise Problem(422, "statement: not an enrolment statement") from None
    images, total = [], 0
    for upload in files:
        data = await upload.read(request.app.state.max_upload_bytes + 1)
        total += len(data)
        if total > request.app.state.max_upload_bytes:
            raise Problem(413, f"the photos are larger than this studio's limit of {request.app.state.max_upload_bytes} bytes")
        try:
            with Image.open(io.BytesIO(data)) as opened:
                if opened.width * opened.height > MAX_PHOTO_PIXELS:
                    raise Problem(413, f"{upload.filename}: more than {MAX_PHOTO_PIXELS} pixels")
                images.append((upload.filename or "photo", np.asarray(opened.convert("RGB"))))
        except (UnidentifiedImageError, OSError):
            raise Problem(415, f"{upload.filename}: not a photo this studio reads (JPEG, PNG, WebP)") from None
    vault = vault_of(request)
    collected = request.app.state.face_check.using(lambda analyzer: collect_images(images, analyzer, what="the photos"))
    del images
    identity = vault.enrol(name, list(collected.items), role=role, sources=collected.sources, statement=(statement, signature))
    parties.represent(vault, me.username, identity.name, role, by=me.username)
    if identity.status == "held":
        from fastapi.responses import JSONResponse

        # Accepted, not enrolled: it waits for the operator (a refusal is a 403 problem instead).
        return JSONResponse(status_code=202, content={"name": identity.name, "role": identity.role, "owner_key": identity.fingerprint,
                                                      "status": "held", "detail": held_line(identity.name)})
    return dict(_view(vault, identity.name, me), status="active")


class ReviewDecision(BaseModel):
    different_from: str | None = Field(default=None, max_length=200)  # the identity it was held for: different people
    reject: bool = False  # the same person: destroy the held enrolment


@router.get("/enrolment-reviews")
def held_enrolments(request: Request, me: Account = Depends(kind("operator"))) -> dict:
    """Enrolments held by the firewall, with what the audit chain recorded (nearest, distance, crops agreeing)."""
    items = [{"name": h.identity.name, "created": h.identity.created, "items": h.identity.items, "firewall": h.firewall}
             for h in vault_of(request).held()]
    return {"items": items, "total": len(items)}


@router.post("/enrolment-reviews/{name}")
def decide_enrolment(name: str, body: ReviewDecision, request: Request, me: Account = Depends(kind("operator"))) -> dict:
    """The operator says a held enrolment is a different person (it becomes active) or the same one (destroyed); audited."""
    if (body.different_from is None) == (not body.reject):
        raise Problem(422, "send different_from (different people) or reject: true (the same person)")
    vault = vault_of(request)
    if body.reject:
        vault.reject_identity(name, by=me.username)
        return {"name": name, "status": "rejected"}
    vault.confirm_identity(name, different_from=str(body.different_from), by=me.username)
    return {"name": name, "status": "active", "different_from": body.different_from}


THUMBNAIL_SIDE = 160
MAX_THUMBNAILS = 24


@router.get("/identities/{name}/thumbnails/{index}")
def thumbnail(name: str, index: int, request: Request, me: Account = Depends(kind("talent"))):  # noqa: ANN201
    """One faceset crop, small, for the talent alone: decrypted and encoded in memory, sent
    ``no-store`` (no cache, no file); nobody else, the operator included, is shown it."""
    import cv2
    from fastapi.responses import Response

    if not me.represents(name):
        raise Problem(404, f"no identity {name!r} you represent")
    faceset = vault_of(request).faceset(name)
    if not 0 <= index < min(len(faceset.items), MAX_THUMBNAILS):
        raise Problem(404, f"{name!r} has no crop {index}")
    crop = cv2.resize(faceset.items[index].image, (THUMBNAIL_SIDE, THUMBNAIL_SIDE), interpolation=cv2.INTER_AREA)
    del faceset
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise Problem(500, "the thumbnail could not be encoded")
    return Response(encoded.tobytes(), media_type="image/jpeg",
                    headers={"Cache-Control": "no-store, private", "Pragma": "no-cache"})
