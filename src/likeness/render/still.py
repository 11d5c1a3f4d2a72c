"""One image made outside the frame pipeline (a training preview), written the way every output is.

A training preview shows the talent's swapped face, so it is an output like any render:
watermarked with its own render id, visibly labelled, encoded under a temporary name, sealed
with C2PA (the consent assertion of the grant it was made under), recorded in the vault and
only then given its final name. The consent decision was taken by the caller (training
authorises its grant once); this module does not take another render from the quota.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from likeness import media, tagging
from likeness.errors import InputError
from likeness.faces.types import Image
from likeness.render.job import IMAGE_SUFFIXES
from likeness.render.output import OutputPlan, PendingOutput, pending_registry, sha256_file
from likeness.render.pipeline import new_render_id
from likeness.render.record import RenderRecord, consent_assertion
from likeness.tagging.fingerprint import fingerprint as output_fingerprint


def write_still(
    image: Image,
    output: Path,
    *,
    vault: Any,
    identity: str,
    grant_id: str,
    scope: str | None,
    engine: str,
    settings: dict[str, Any],
    overwrite: bool = True,
) -> RenderRecord:
    """Mark, label, encode, seal and record ``image`` as ``output``; returns the render record.

    A preview is updated in place, so by default an existing ``output`` is replaced (atomically).
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"{output}: give an image file name ({', '.join(IMAGE_SUFFIXES)})")
    if not output.parent.is_dir():
        raise InputError(f"{output}: folder {output.parent} does not exist")
    render_id = new_render_id()
    marker = tagging.Watermarker(tagging.PUBLIC_KEY, secret_key=vault.watermark_key())
    marked = tagging.mark_frame(image, render_id=render_id, visible=True, marker=marker)
    consent, terms = _proof(vault, grant_id, scope)
    home = getattr(getattr(vault, "settings", None), "home", None)
    registry = pending_registry(home) if home is not None else None
    with PendingOutput(OutputPlan(output, suffix, overwrite), registry=registry) as pending, pending.named_in_errors():
        media.write_image(pending.encoded, marked)
        chain_pem, key_pem = vault.c2pa_signing()
        tagging.seal(pending.encoded, pending.sealed, render_id=render_id, chain_pem=chain_pem, key_pem=key_pem, consent=consent)
        record = RenderRecord(
            render_id=render_id,
            grant_id=str(grant_id),
            identity=identity,
            target_sha256="",
            output_sha256=sha256_file(pending.sealed),
            engine=engine,
            settings={**settings, "output": str(output), "frames": 1},
            time=time.time(),
            fingerprint=output_fingerprint([marked]).to_bytes(),
        )
        vault.record_preview(terms, record, {"engine": engine})  # refused if the grant was revoked or ran out meanwhile
        pending.commit()
    return record


def _proof(vault: Any, grant_id: str, scope: str | None) -> tuple[dict[str, Any], Any]:
    """The consent assertion of a preview (the training grant as signed, no number of its own)
    and the terms the ledger checks again when it is recorded."""
    from likeness.consent import Grant, Signed
    from likeness.vault import Terms

    record = vault.grant_record(grant_id)
    if record is None:
        raise InputError(f"no grant {grant_id} in the vault")
    grant = Grant.from_payload(json.loads(record.payload))
    assertion = consent_assertion(grant=grant, signed=Signed(record.payload, record.signature), public_key=record.owner_public,
                                  scope=scope, vault_id=vault.vault_id, head=vault.signed_head(), n=None, time=time.time())
    return assertion, Terms(grant.id, record.identity_id, grant.max_renders, grant.not_before, grant.expires)
