"""One image made outside the frame pipeline (a training preview), written the way every output is.

A training preview shows the talent's swapped face, so it is an output like any render:
watermarked with its own render id, visibly labelled, encoded under a temporary name, sealed
with C2PA (the consent assertion of the grant it was made under), recorded in the vault and
only then given its final name. The consent decision was taken by the caller (training
authorises its grant once); this module does not take another render from the quota.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from likeness import media, tagging
from likeness.errors import InputError
from likeness.faces.types import Image
from likeness.render.job import IMAGE_SUFFIXES
from likeness.render.output import OutputPlan, PendingOutput, sha256_file
from likeness.render.pipeline import new_render_id
from likeness.render.record import RenderRecord, consent_assertion


def write_still(
    image: Image,
    output: Path,
    *,
    vault: Any,
    identity: str,
    grant_id: str,
    consent: dict[str, Any],
    engine: str,
    settings: dict[str, Any],
) -> RenderRecord:
    """Mark, label, encode, seal and record ``image`` as ``output``; returns the render record."""
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"{output}: give an image file name ({', '.join(IMAGE_SUFFIXES)})")
    if not output.parent.is_dir():
        raise InputError(f"{output}: folder {output.parent} does not exist")
    render_id = new_render_id()
    marked = tagging.mark_frame(image, render_id=render_id, visible=True)
    with PendingOutput(OutputPlan(output, suffix)) as pending, pending.named_in_errors():
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
        )
        vault.record_render(record)
        pending.commit()
    return record
