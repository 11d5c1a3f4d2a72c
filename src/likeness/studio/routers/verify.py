"""``POST /verify``: anyone checks a file, and gets what ``likeness verify --json`` says.

The studio's vault answers with its registry, secret mark and fingerprints; the identity is
named only where its talent chose to be named, and no server path or fingerprint leaves.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request, UploadFile

from likeness.studio.problems import Problem
from likeness.studio.routers.uploads import CHUNK, studio_dir
from likeness.tagging import verify as run_verify
from likeness.vault import licensing

router = APIRouter(tags=["verify"])


@router.post("/verify")
async def verify(file: UploadFile, request: Request, manifest: UploadFile | None = None) -> dict:
    """``manifest``: the C2PA sidecar (NAME.c2pa) of a file that keeps it beside itself (an avatar, .glb)."""
    limit = request.app.state.max_upload_bytes
    vault = request.app.state.vault
    suffix = Path(file.filename or "upload").suffix.lower()[:10] or ".bin"
    fd, name = tempfile.mkstemp(prefix=".verify-", suffix=suffix, dir=studio_dir(request, "tmp"))
    path = Path(name)
    sidecar = path.with_suffix(".c2pa")
    try:
        await _save(file, os.fdopen(fd, "wb"), limit)
        if manifest is not None:
            await _save(manifest, os.fdopen(os.open(sidecar, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb"), limit)
        verdict = run_verify(path, vault)
    finally:
        path.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
    data = verdict.as_dict()
    data["path"] = file.filename
    if data.get("model"):
        data["model"]["sidecar"] = manifest.filename if manifest is not None and data["model"]["sidecar"] else None
    return _public(vault, data)


async def _save(upload: UploadFile, out, limit: int) -> None:  # noqa: ANN001
    size = 0
    with out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise Problem(413, f"the file is larger than this studio's limit of {limit} bytes")
            out.write(chunk)


def _public(vault, data: dict) -> dict:  # noqa: ANN001
    """Organisation, scope and date stay; the identity only where its talent chose to be named."""
    consent = (data.get("c2pa") or {}).get("consent") or {}
    try:
        grantee = json.loads(consent["grant"]["payload"]).get("grantee")
    except (KeyError, TypeError, ValueError, AttributeError):
        grantee = None
    proof = data.get("consent") or {}
    data["licence"] = {"organisation": grantee, "scope": consent.get("scope"), "rendered": proof.get("render_time")}
    names = {str((data.get("consent") or {}).get("identity") or ""), str((data.get("render") or {}).get("identity") or "")} - {""}
    named = True
    for name in names:
        try:
            named = named and licensing.listing(vault, name).named
        except Exception:  # noqa: BLE001 - an identity this vault does not know is not named
            named = False
    if not named:
        if data.get("consent"):
            data["consent"]["identity"] = None
        if (data.get("model") or {}).get("extras"):
            data["model"]["extras"]["identity"] = None
        if data.get("render"):
            data["render"]["identity"] = None
        for part in ("c2pa",):
            consent = (data.get(part) or {}).get("consent") or {}
            if isinstance(consent.get("grant"), dict):
                consent["grant"] = {"withheld": "the talent chose not to be named"}
    if data.get("render"):
        data["render"] = {k: v for k, v in data["render"].items() if k in ("render_id", "grant_id", "identity", "engine", "time", "n")}
    return data
