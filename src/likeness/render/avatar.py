"""The avatar export: a licensed 3D face for games, made and tagged the way every output is.

consent check (scope ``game``, audited) -> faceset decrypted in memory -> avatar built
(``likeness.avatar``) -> texture watermarked (public and secret marks) -> [take the export from
the quota -> GLB written with the consent proof and its number in ``asset.extras`` -> C2PA
sidecar signed over the GLB's bytes -> record + audit, in one transaction] -> sidecar then GLB
given their final names. A refusal writes nothing; any failure before the quota is taken uses
nothing and removes the hidden folder (``render.output``); only the GLB and its sidecar ever
appear beside the output name. The avatar holds the talent's face, like a rendered video: it is
an output, never a cache.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from likeness import consent, tagging
from likeness.errors import ConsentError, InputError
from likeness.media.digest import sha256_file
from likeness.render.output import OutputPlan, PendingOutput, pending_registry
from likeness.render.pipeline import Observer, new_render_id
from likeness.render.record import RenderRecord, consent_assertion, render_id_hex
from likeness.tagging.avatar_tags import avatar_extras
from likeness.tagging.content_credentials import SIDECAR_SUFFIX
from likeness.tagging.fingerprint import fingerprint as output_fingerprint

SCOPE = "game"  # an avatar is a use of the likeness in a game: only a grant with this scope covers it
SUFFIX = ".glb"
ENGINE = "avatar"

log = logging.getLogger("likeness.render")


@dataclass(frozen=True)
class AvatarJob:
    """Export ``identity``'s avatar under ``grant_id`` as ``output`` (a .glb; its manifest goes beside it as NAME.c2pa)."""

    identity: str
    grant_id: str
    output: Path
    texture: int = 2048
    expressions: bool = False
    overwrite: bool = False
    organisation: str | None = None  # the client organisation exporting (the studio's workers); None: the vault's own

    def __post_init__(self) -> None:
        from likeness.avatar import TEXTURE_SIZES

        object.__setattr__(self, "output", Path(self.output))
        if isinstance(self.texture, bool) or self.texture not in TEXTURE_SIZES:
            raise InputError(f"--texture {self.texture!r}: use one of {', '.join(map(str, TEXTURE_SIZES))}")

    @property
    def sidecar(self) -> Path:
        return self.output.with_suffix(SIDECAR_SUFFIX)

    def settings(self) -> dict[str, Any]:
        return {"kind": ENGINE, "scope": SCOPE, "texture": self.texture, "expressions": self.expressions, "overwrite": self.overwrite,
                "output": str(self.output), "content_credentials": str(self.sidecar)}


def check_avatar_output(job: AvatarJob) -> None:
    """The checks that need no file read: run before consent, so a typo does not use up an export."""
    output = job.output
    if output.suffix.lower() != SUFFIX:
        raise InputError(f"{output}: an avatar is written as a binary glTF; give a name ending in {SUFFIX}")
    for path in (output, job.sidecar):
        if path.is_dir():  # a folder at the sidecar's name would fail the final rename after the export was counted
            raise InputError(f"{path}: is a folder; give a file name for the avatar whose {path.suffix} name is free")
    if not output.parent.is_dir():
        raise InputError(f"{output}: folder {output.parent} does not exist")
    if not job.overwrite:
        for path in (output, job.sidecar):
            if os.path.lexists(path):
                raise InputError(f"{path}: exists; pass --overwrite to replace it")


def export_avatar(job: AvatarJob, *, vault: Any, observer: Observer | None = None) -> RenderRecord:
    """Run ``job`` and return its record; the GLB and its sidecar exist only if this returns.

    Raises :class:`ConsentError` (nothing written, nothing used) when no valid grant with scope
    ``game`` covers it, :class:`InputError` for a bad output name or an identity with no crops.
    ``observer(stage, step, steps)`` hears the progress; an exception it raises stops the export
    with nothing written and nothing used.
    """
    from likeness.avatar import build_avatar, gltf_bytes

    observe = observer or (lambda stage, step, steps: None)
    check_avatar_output(job)
    decision = _authorize(job, vault)
    observe("fitting", 0, 3)
    faceset = vault.faceset(job.identity)  # decrypted in memory only
    avatar = build_avatar(faceset, texture=job.texture, expressions=job.expressions)
    del faceset
    observe("marking", 1, 3)
    render_id = new_render_id()
    marker = tagging.Watermarker(tagging.PUBLIC_KEY, secret_key=vault.watermark_key())
    texture = tagging.mark_frame(avatar.texture, render_id=render_id, marker=marker)
    fingerprint = output_fingerprint([texture]).to_bytes()
    visible = bool(getattr(decision.grant, "visible_label", False))
    report = avatar.report.as_dict()
    chain_pem, key_pem = vault.c2pa_signing()
    from likeness import __version__

    registry = pending_registry(vault.settings.home)
    is_recorded = lambda sha: vault.render_by_output(sha) is not None  # noqa: E731 - a recorded export is recovered, not swept
    with PendingOutput(OutputPlan(job.output, SUFFIX, job.overwrite), registry=registry, is_recorded=is_recorded) as pending, \
            pending.named_in_errors():
        sidecar = pending.companion(SIDECAR_SUFFIX)  # placed beside the GLB before it, by commit or by doctor
        observe("sealing", 2, 3)

        def produce(n: int) -> RenderRecord:
            # Inside the ledger's transaction: the number written into the file is exact.
            now = time.time()
            pending.checkpoint("sealing")
            proof = consent_assertion(grant=decision.grant, signed=decision.signed, public_key=decision.public_key, scope=SCOPE,
                                      vault_id=vault.vault_id, head=decision.head, n=n, time=now)
            extras = avatar_extras(
                render_id=render_id, grant_id=decision.grant.id, scope=SCOPE, identity=job.identity, visible_label=visible,
                consent=proof, sidecar=job.sidecar.name,
                details={"units": report["units"], "interocular_m": report["interocular_m"], "morph_targets": report["morph_targets"]},
            )
            pending.sealed.write_bytes(gltf_bytes(avatar, texture, extras, generator=f"likeness {__version__}"))
            tagging.seal_sidecar(pending.sealed, sidecar, title=job.output.name, render_id=render_id, chain_pem=chain_pem,
                                 key_pem=key_pem, consent=proof)
            pending.checkpoint("sealed")
            return RenderRecord(
                render_id=render_id, grant_id=str(decision.grant.id), identity=job.identity, target_sha256="",
                output_sha256=sha256_file(pending.sealed), engine=ENGINE,
                settings={**job.settings(), "visible_label": visible, "avatar": report}, time=now, n=n, fingerprint=fingerprint,
            )

        taken = consent.take(vault, decision, use="avatar",
                             data={"kind": ENGINE, "scope": SCOPE, "texture": job.texture, "expressions": job.expressions}, produce=produce)
        pending.commit(overwrite=job.overwrite)  # the sidecar first: a GLB never appears without its manifest
    assert taken.render is not None
    log.info("avatar %s of %r written to %s", render_id_hex(render_id), job.identity, job.output)
    return taken.render


def _authorize(job: AvatarJob, vault: Any) -> Any:
    """Ask consent for a ``game`` use (audited either way); the quota is used only when the GLB exists."""
    decision = consent.authorize(vault, consent.Request(job.identity, job.grant_id, SCOPE, "avatar", job.organisation or vault.studio))
    if decision.allowed:
        return decision
    why = "; ".join(decision.reasons) or "no reason given"
    raise ConsentError(f"avatar of {job.identity!r} under grant {job.grant_id} refused: {why}; nothing was written")
