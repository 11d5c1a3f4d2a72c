"""``/uploads``: targets streamed to disk under a size limit, probed before they are accepted,
and kept under ``LIKENESS_HOME/studio/uploads``, which nothing serves."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, Request, UploadFile

from likeness import media
from likeness.errors import InputError
from likeness.render.job import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from likeness.studio.deps import kind, page, vault_of
from likeness.studio.problems import Problem
from likeness.studio.views import upload_view
from likeness.vault import deliveries
from likeness.vault.accounts import Account
from likeness.vault.files import private_dir

router = APIRouter(tags=["uploads"])
ACCEPTED = set(IMAGE_SUFFIXES) | set(VIDEO_SUFFIXES) | {".mpg", ".mpeg", ".mkv", ".webm", ".avi", ".m4v"}
CHUNK = 1 << 20


def studio_dir(request: Request, name: str) -> Path:
    return private_dir(private_dir(vault_of(request).settings.home / "studio") / name)


@router.post("/uploads", status_code=201)
async def upload(file: UploadFile, request: Request, me: Account = Depends(kind("organisation"))) -> dict:
    """Stream ``file`` (multipart) to disk; over the limit is 413, not a picture or video is 415."""
    limit = request.app.state.max_upload_bytes
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in ACCEPTED:
        raise Problem(415, f"{file.filename!r}: not an image or video this studio renders ({', '.join(sorted(ACCEPTED))})")
    upload_id = str(uuid.uuid4())
    path = studio_dir(request, "uploads") / f"{upload_id}{suffix}"
    digest, size = hashlib.sha256(), 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise Problem(413, f"the upload is larger than this studio's limit of {limit} bytes")
                digest.update(chunk)
                out.write(chunk)
        try:
            info = media.probe(path)
        except InputError as exc:
            raise Problem(415, f"{file.filename!r}: {str(exc).replace(str(path), 'the upload')}") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    made = deliveries.add_upload(vault_of(request), organisation=me.organisation, account=me.username, filename=file.filename or path.name,
                                 path=str(path), kind=info.kind, size=size, sha256=digest.hexdigest(), upload_id=upload_id)
    return upload_view(made)


@router.get("/uploads")
def list_uploads(request: Request, me: Account = Depends(kind("organisation")), paging: tuple[int, int] = Depends(page)) -> dict:
    offset, limit = paging
    found = deliveries.list_uploads(vault_of(request), organisation=me.organisation, limit=limit, offset=offset)
    return {"items": [upload_view(u) for u in found], "offset": offset, "limit": limit}
