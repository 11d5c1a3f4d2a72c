"""``verify``: is this file a likeness output, which render, and does its paperwork still hold?

Witnesses: the public watermark (anyone can read it, and so anyone can forge it), the studio's
secret mark (only the vault's key reads it), the C2PA manifest (signed, breaks on any change,
carrying the talent-signed grant, the render's number and a signed audit head), the XMP label
(informative only), and, with the vault, the render registry, found only through evidence: the
file's own hash, or a perceptual fingerprint that agrees with the record the mark names.

Verdicts, in words that do not overclaim (and the exit code ``likeness verify`` gives):
- ``intact`` (0): a signed, intact likeness output: the manifest validates against a trusted
  root (the studio's, or one in a trust list), its hash binding holds and its consent proof checks.
- ``tampered`` (1): a manifest is present but fails (changed pixels, a manifest over other
  pixels, a bad signature), or it contradicts the watermark.
- ``forged`` (1): the picture carries a likeness mark naming render X, but it is not that
  render: the mark was forged or moved (needs the vault, which holds X's fingerprint).
- ``consent-invalid`` (3): an intact output whose consent proof fails (grant signature, window,
  quota, revoked before the render, a render number seen twice).
- ``no-mark-found`` (5): no likeness mark, which is not proof that the file is authentic.
- ``confirmed`` (6): no intact manifest, but the studio confirms the mark: the picture matches
  render X's fingerprint, or carries the studio's secret mark.
- ``unconfirmed`` (7): a likeness mark naming render X is present (or a manifest from a signer
  nobody trusts here); only the issuing studio can confirm it.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from likeness.errors import InputError, LikenessError
from likeness.faces.types import Image
from likeness.media.digest import sha256_file
from likeness.media.gltf import is_glb
from likeness.tagging.avatar_tags import AvatarTags, read_avatar
from likeness.tagging.content_credentials import Manifest, read_manifest, sidecar_of
from likeness.tagging.watermark import PUBLIC_KEY, Detection, Watermarker
from likeness.tagging.xmp import read_xmp_label

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".m4v"}
MAX_VIDEO_FRAMES = 24  # sampled evenly; pooled detection needs few frames
EXIT_CODES = {"intact": 0, "tampered": 1, "forged": 1, "consent-invalid": 3, "no-mark-found": 5, "confirmed": 6, "unconfirmed": 7}
_NO_MARK = Detection(False, None, 0.0)


def hex_id(render_id: int | None) -> str | None:
    """A render id as people and JSON see it everywhere: 16 lower-case hex digits."""
    return None if render_id is None else f"{int(render_id):016x}"


@dataclass(frozen=True)
class ConsentProof:
    """What the manifest's consent assertion proves without the vault."""

    present: bool
    ok: bool = False
    grant_id: str | None = None
    identity: str | None = None
    signer_role: str | None = None
    talent_key: str | None = None  # fingerprint of the key that signed the grant
    talent_card: bool | None = None  # with --talent-key: whether that key is the card's
    n: int | None = None
    of: int | None = None
    render_time: str | None = None
    not_before: str | None = None
    expires: str | None = None
    revoked: str | None = None  # with --revocations: when the grant was revoked, if it was
    head_seq: int | None = None
    head_ok: bool | None = None
    vault: str | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """Everything ``likeness verify`` reports; :meth:`as_dict` is its JSON."""

    path: str
    verdict: str
    watermark: Detection
    c2pa: Manifest
    xmp: str | None
    render: dict[str, Any] | None = None
    reasons: tuple[str, ...] = field(default=())
    secret_mark: Detection | None = None  # None: not looked for (no vault)
    consent: ConsentProof = ConsentProof(present=False)
    sha256: str = ""
    attribution: str | None = None  # how the render record was found: "hash", "fingerprint", "secret-mark"
    model: dict[str, Any] | None = None  # an avatar (GLB): its sidecar manifest and what its extras claim

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def as_dict(self) -> dict[str, Any]:
        wm = self.watermark
        c2pa = {**asdict(self.c2pa), "actions": list(self.c2pa.actions), "failures": list(self.c2pa.failures)}
        c2pa["render_id"] = hex_id(self.c2pa.render_id)
        c2pa["signer_serial"] = None if self.c2pa.signer_serial is None else str(self.c2pa.signer_serial)
        return {
            "path": self.path,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "sha256": self.sha256,
            "reasons": list(self.reasons),
            "watermark": {"found": wm.found, "render_id": hex_id(wm.payload), "confidence": round(wm.confidence, 3)},
            "secret_mark": None if self.secret_mark is None else {
                "found": self.secret_mark.found, "render_id": hex_id(self.secret_mark.payload),
                "confidence": round(self.secret_mark.confidence, 3),
            },
            "c2pa": c2pa,
            "consent": {**asdict(self.consent), "problems": list(self.consent.problems)},
            "xmp": {"digital_source_type": self.xmp},
            "render": self.render,
            "attribution": self.attribution,
            "model": self.model,
        }


def verify(
    path: str | Path,
    vault: Any = None,
    *,
    trust_roots: bytes | None = None,
    talent_card: dict[str, Any] | None = None,
    revocations: dict[str, Any] | None = None,
    marker: Watermarker | None = None,
) -> Verdict:
    """Check ``path``. ``vault`` (optional) supplies its root, its secret mark and its registry;
    ``trust_roots`` are PEM roots from a trust list; ``talent_card`` and ``revocations`` are the
    talent's own published key and signed revocations."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    roots = (trust_roots or b"") + (_vault_root(vault) or b"")
    unreadable = None
    avatar, sidecar = None, None
    if is_glb(path):
        # An avatar: the manifest sits beside it (bound to its bytes), the mark is in its texture.
        avatar = read_avatar(path)
        sidecar = sidecar_of(path)
        if sidecar is not None and _same_file(sidecar, path):
            sidecar = None  # a GLB named NAME.c2pa is not its own manifest
        manifest = _read_sidecar(path, roots or None, sidecar) if sidecar is not None else Manifest(state="absent")
        frames = [avatar.texture] if avatar.texture is not None else []
        if avatar.texture is None:
            unreadable = "; ".join(avatar.problems)
            if manifest.state == "absent":
                # Nothing to check: no signed manifest, and no texture to look for a mark in.
                raise InputError(f"{path}: not a readable avatar ({unreadable}) and no C2PA sidecar beside it")
    else:
        manifest = read_manifest(path, roots or None)
        try:
            frames = _frames(path)
        except InputError as exc:
            if manifest.state == "absent":
                raise
            frames, unreadable = [], str(exc)
    if unreadable and manifest.state == "invalid" and not manifest.actions:
        # Neither pixels nor a manifest could be read: a broken or foreign file, not a tampered output.
        raise InputError(f"{path}: not a readable image or video ({unreadable})")
    marker = marker or Watermarker(PUBLIC_KEY)
    detection = _detect(marker, frames) if frames else _NO_MARK
    secret = _detect(Watermarker(vault.watermark_key()), frames) if vault is not None and frames else None
    xmp = read_xmp_label(path)
    digest = sha256_file(path)
    proof = consent_proof(manifest.consent, manifest, talent_card=talent_card, revocations=revocations) if manifest.state != "absent" else ConsentProof(False)

    reasons: list[str] = [f"pixels unreadable: {unreadable}"] if unreadable else []
    mark_id = detection.payload if detection.found else None
    secret_id = secret.payload if secret is not None and secret.found else None
    if secret_id is not None and mark_id is not None and secret_id != mark_id:
        reasons.append(f"the public mark names render {hex_id(mark_id)} but the studio's secret mark names {hex_id(secret_id)}")

    record, attribution = None, None
    problems = tuple(getattr(vault, "problems", ()) or ())
    reasons += [f"the studio's vault was altered: {p}" for p in problems]
    if vault is not None:
        record, why = _registry(vault, output_sha256=digest)
        if why:
            reasons.append(why)
        if record is not None:
            attribution = "hash"
    verdict: str
    if manifest.state == "invalid":
        verdict = "tampered"
        reasons.append(_invalid_reason(manifest))
    elif manifest.render_id is not None and mark_id is not None and mark_id != manifest.render_id:
        verdict = "tampered"
        reasons.append(f"the watermark names render {hex_id(mark_id)}, contradicting the manifest's {hex_id(manifest.render_id)}")
    elif manifest.state in ("valid", "trusted"):
        if manifest.render_id is not None and mark_id is None and frames:
            reasons.append("the manifest names a render but no watermark was found in the pixels")
        if record is not None and manifest.consent.get("grant_id") not in (None, record.get("grant_id")):
            reasons.append(f"the manifest names grant {manifest.consent.get('grant_id')}, the render record grant {record.get('grant_id')}")
        if manifest.state != "trusted":
            verdict = "unconfirmed"
            reasons.append(f"signed by a certificate nobody here trusts ({_signer(manifest)}); only the issuing studio, or its "
                           "root in a trust list (--trust-list), can confirm it")
        elif not proof.ok:
            verdict = "consent-invalid"
            if not proof.present:
                reasons.append("consent: the manifest carries no signed grant (no consent proof)")
        else:
            verdict = "intact"
        reasons += [f"consent: {p}" for p in proof.problems]
    else:
        verdict, record, attribution, more = _attribute(vault, frames, mark_id, secret_id)
        reasons += more
    if avatar is not None:
        verdict, proof, more = _avatar_checks(avatar, sidecar, manifest, mark_id, verdict, proof, vault=vault, secret_id=secret_id,
                                              readable=bool(frames), talent_card=talent_card, revocations=revocations)
        reasons += more
    if problems and verdict in ("intact", "confirmed"):
        verdict = "unconfirmed"  # a vault whose database was edited confirms nothing
    model = None if avatar is None else {"format": "glb", "sidecar": str(sidecar) if sidecar else None, "extras": avatar.summary()}
    return Verdict(str(path), verdict, detection, manifest, xmp, record, tuple(reasons), secret, proof, digest, attribution, model)


def _avatar_checks(avatar: AvatarTags, sidecar: Path | None, manifest: Manifest, mark_id: int | None, verdict: str,
                   proof: ConsentProof, *, vault: Any = None, secret_id: int | None = None, readable: bool = True,
                   **keys: Any) -> tuple[str, ConsentProof, list[str]]:
    """What an avatar's extras add to the verdict: they must agree with its manifest, its mark and its record.

    The sidecar binds the whole file, so an edited extras field already fails the manifest; this
    also catches extras that contradict a manifest (or a mark) they were never signed with, and,
    when the sidecar is gone, extras copied from another export (another render, another grant,
    another number than the texture's mark and the studio's record say) or kept over a texture
    that carries no mark. A GLB that draws its face from anything but the marked texture is not
    the render the mark names. Any contradiction makes it ``tampered`` (``forged`` stays forged).
    """
    reasons = [p for p in avatar.problems if avatar.texture is not None]
    contradictions = list(avatar.drawn_elsewhere) if verdict != "no-mark-found" or avatar.extras is not None else []
    extras = avatar.extras
    if extras is None:
        return _contradicted(verdict, contradictions), proof, reasons + contradictions
    named = avatar.render_id
    claimed = f"render {extras.get('render_id')} under grant {extras.get('grant_id')} (scope {extras.get('scope')})"
    if manifest.state == "invalid":
        return verdict, proof, reasons
    claim = extras.get("consent") if isinstance(extras.get("consent"), dict) else {}
    if named is None:
        contradictions.append(f"the GLB's extras name no render (render_id {extras.get('render_id')!r})")
    contradictions += _grant_contradictions(extras, claim)
    if claim.get("grant_id") not in (None, extras.get("grant_id")):
        contradictions.append(f"the GLB's extras name grant {extras.get('grant_id')}, their consent proof grant {claim.get('grant_id')}")
    if manifest.state == "absent":
        # Unsigned claims: they hold only as far as the texture's mark and the studio's record back them.
        if claim:
            proof = consent_proof(claim, None, **keys)
        marked = mark_id if mark_id is not None else secret_id
        if named is not None and marked is not None and named != marked:
            contradictions.append(f"the GLB's extras name render {extras.get('render_id')}, its texture's mark {hex_id(marked)}: "
                                  "the extras were copied from another export")
        elif named is not None and marked is None and readable:
            contradictions.append(f"the GLB's extras name render {extras.get('render_id')}, but its texture carries no likeness mark "
                                  "(the texture was replaced or its mark removed)")
        if named is not None and vault is not None:
            contradictions += _record_contradictions(vault, named, extras, proof)
        unsigned = (f"the GLB's extras claim {claimed}, but its C2PA sidecar "
                    f"({extras.get('content_credentials') or 'NAME.c2pa'}) is not beside it: unsigned claims")
        return _contradicted(verdict, contradictions), proof, reasons + [unsigned] + contradictions
    if named is not None and manifest.render_id is not None and named != manifest.render_id:
        contradictions.append(f"the GLB's extras name render {extras.get('render_id')}, its signed manifest {hex_id(manifest.render_id)}")
    if named is not None and mark_id is not None and named != mark_id:
        contradictions.append(f"the GLB's extras name render {extras.get('render_id')}, its texture's watermark {hex_id(mark_id)}")
    if extras.get("consent") != manifest.consent:
        contradictions.append("the GLB's extras carry another consent proof than its signed manifest")
    if extras.get("grant_id") != manifest.consent.get("grant_id") or extras.get("scope") != manifest.consent.get("scope"):
        contradictions.append("the GLB's extras name another grant or scope than its signed manifest")
    return _contradicted(verdict, contradictions), proof, reasons + contradictions


AVATAR_SCOPE = "game"  # the scope an avatar is exported under (render.avatar.SCOPE; tagging does not import render)


def _contradicted(verdict: str, contradictions: list[str]) -> str:
    return verdict if not contradictions or verdict == "forged" else "tampered"


def _grant_contradictions(extras: dict[str, Any], claim: dict[str, Any]) -> list[str]:
    """An avatar is a ``game`` use, and carries its grant's visible-label wish: its extras, its proof and the
    talent-signed grant in it must agree on both (a game reads ``visible_label`` from the extras)."""
    found = []
    for where, scope in (("extras", extras.get("scope")), ("consent proof", claim.get("scope") if claim else AVATAR_SCOPE)):
        if scope != AVATAR_SCOPE:
            found.append(f"the GLB's {where} claim scope {scope!r}; an avatar is exported only under scope {AVATAR_SCOPE!r}")
    signed = claim.get("grant") if isinstance(claim.get("grant"), dict) else None
    try:
        grant = json.loads(str(signed.get("payload", ""))) if signed is not None else None
    except ValueError:
        grant = None  # unreadable: the consent proof says so
    if not isinstance(grant, dict):
        return found
    scopes = grant.get("scopes")
    if isinstance(scopes, list) and AVATAR_SCOPE not in scopes:
        found.append(f"the talent-signed grant in the GLB covers {', '.join(map(str, scopes)) or 'no scope'}, not {AVATAR_SCOPE!r}")
    label = extras.get("visible_label") if isinstance(extras.get("visible_label"), dict) else {}
    if isinstance(grant.get("visible_label"), bool) and label.get("required") is not grant["visible_label"]:
        found.append(f"the GLB's extras say a visible label is {'' if label.get('required') else 'not '}required, but the "
                     f"talent-signed grant {'asks for' if grant['visible_label'] else 'does not ask for'} one")
    return found


def _record_contradictions(vault: Any, named: int, extras: dict[str, Any], proof: ConsentProof) -> list[str]:
    """Unsigned extras against the studio's record of the render they name (grant, number, identity)."""
    record, _ = _registry(vault, render_id=named)
    if record is None:
        return []
    checks = [("grant", extras.get("grant_id"), record.get("grant_id")), ("identity", extras.get("identity"), record.get("identity"))]
    if proof.present:
        checks += [("grant", proof.grant_id, record.get("grant_id")), ("number", proof.n, record.get("n"))]
    # The recorded value is not printed: verify answers anyone, and the record's identity may be unnamed.
    found = [f"the GLB's extras claim {what + ' ' + str(claimed) if what != 'identity' else 'an identity'}, but the studio recorded "
             f"render {hex_id(named)} with another {what}: the extras were copied from another export"
             for what, claimed, recorded in checks if claimed != recorded]
    return list(dict.fromkeys(found))


def _read_sidecar(path: Path, roots: bytes | None, sidecar: Path) -> Manifest:
    """The sidecar manifest of the GLB ``path``, checked as ``model/gltf-binary`` whatever the file is called
    (an upload named ``blob``, ``face.bin``): a GLB not named .glb is read through a link that is."""
    import tempfile

    if path.suffix.lower() == ".glb":
        return read_manifest(path, roots, sidecar=sidecar)
    with tempfile.TemporaryDirectory(prefix="likeness-verify-") as folder:
        link = Path(folder) / "asset.glb"
        link.symlink_to(path.resolve())
        return read_manifest(link, roots, sidecar=sidecar)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _attribute(vault: Any, frames: list[Image], mark_id: int | None, secret_id: int | None) -> tuple[str, dict | None, str | None, list[str]]:
    """Verdict for a file without a manifest: only evidence attributes it to a render.

    The public mark only names a render. The render's fingerprint (sealed in the vault, checked
    against its audit entry) says whether this is that picture, and its face regions whether
    the face is the swapped one rather than the photo the render was made from; the studio's
    secret mark, which nobody else can lay, backs it where the regions cannot speak.
    """
    named = mark_id if mark_id is not None else secret_id
    if named is None:
        return "no-mark-found", None, None, []
    if vault is None:
        return "unconfirmed", None, None, [f"a likeness mark naming render {hex_id(named)} is present; only the issuing studio can confirm it"]
    record, why = _registry(vault, render_id=named)
    notes = [why] if why else []
    if record is None:
        if secret_id is not None:
            return "unconfirmed", None, None, notes + [f"the studio's secret mark is present, but no render {hex_id(named)} is recorded in this vault"]
        return "unconfirmed", None, None, notes + [
            f"a likeness mark naming render {hex_id(named)} is present, but this studio has no such render; only the issuing studio can confirm it"
        ]
    match = _fingerprint_match(vault, named, frames)
    forged = f"carries a likeness mark naming render {hex_id(named)}, but the picture is not that render: the mark was forged or moved"
    if match is None:
        return "unconfirmed", None, None, notes + [f"render {hex_id(named)} has no fingerprint to compare with; only its secret mark "
                                                   f"{'is' if secret_id == named else 'is not'} present"]
    if not match.matched:
        return "forged", None, None, notes + [forged]
    region = getattr(match, "region_matched", None)
    if region is False:
        return "forged", None, None, notes + [
            f"{forged}: the picture is the one render {hex_id(named)} was made from, without its swapped face ({match.detail})"
        ]
    if region is True or secret_id == named:
        evidence = "its face regions match" if region else "the studio's secret mark is present"
        return "confirmed", record, "fingerprint", notes + [f"matches render {hex_id(named)} ({match.detail}; {evidence})"]
    return "unconfirmed", None, None, notes + [
        f"resembles render {hex_id(named)} ({match.detail}), but neither its face regions nor the studio's secret mark could be "
        "checked: a damaged copy of it, or a forged mark on the photo it was made from"
    ]


def _fingerprint_match(vault: Any, render_id: int, frames: list[Image]) -> Any:
    from likeness.tagging.fingerprint import Fingerprint, compare

    stored, _ = _registry_record(vault, render_id=render_id)
    if stored is None or not getattr(stored, "fingerprint", None) or not frames:
        return None
    try:
        return compare(Fingerprint.from_bytes(stored.fingerprint), frames)
    except InputError:
        return None


def consent_proof(
    assertion: dict[str, Any],
    manifest: Manifest | None = None,
    *,
    talent_card: dict[str, Any] | None = None,
    revocations: dict[str, Any] | None = None,
) -> ConsentProof:
    """Check the consent assertion without any vault: grant signature, window, number, key, head."""
    from likeness.consent.grants import Grant, Revocation
    from likeness.errors import ConsentError
    from likeness.vault.heads import check_head
    from likeness.vault.talent_keys import key_fingerprint, read_signed

    if not isinstance(assertion, dict):
        return ConsentProof(present=False, problems=("the manifest's consent assertion is not an object",))
    signed = assertion.get("grant")
    if not isinstance(signed, dict):
        return ConsentProof(present=False, problems=("the manifest carries no signed grant",) if assertion else ())
    problems: list[str] = []
    try:
        public = base64.b64decode(str(signed.get("public_key", "")), validate=True)
    except ValueError:
        public = b""
    data = read_signed(str(signed.get("payload", "")), str(signed.get("signature", "")), public) if len(public) == 32 else None
    grant = None
    if data is None:
        problems.append("the grant's signature does not verify against the key it carries")
    else:
        try:
            grant = Grant.from_payload(data)
        except ConsentError as exc:
            problems.append(str(exc))
    fingerprint = key_fingerprint(public) if public else None
    render = assertion.get("render") if isinstance(assertion.get("render"), dict) else {}
    n, of, when = render.get("n"), render.get("of"), _when(render.get("time"))
    if grant is not None:
        if grant.talent_key != fingerprint:
            problems.append("the grant names another talent key than the one that signed it")
        if not isinstance(n, (int, type(None))) or isinstance(n, bool):
            n = None
        if grant.id != assertion.get("grant_id"):
            problems.append(f"the manifest names grant {assertion.get('grant_id')}, the signed grant is {grant.id}")
        if assertion.get("vault") not in (None, grant.vault):
            problems.append(f"the output claims vault {assertion.get('vault')}, the grant is for vault {grant.vault}")
        if when is None:
            problems.append("the render time is missing or unreadable")
        elif not grant.not_before <= when < grant.expires:
            problems.append(f"rendered at {when.isoformat()}, outside the grant's window {grant.not_before.isoformat()} .. {grant.expires.isoformat()}")
        if render.get("kind") == "preview" and n is None:
            pass  # a training preview: the training run's own use of the grant covers it
        elif not isinstance(n, int) or isinstance(n, bool) or n < 1:
            problems.append("the render carries no number under its grant")
        elif grant.max_renders is not None and n > grant.max_renders:
            problems.append(f"render number {n} is beyond the grant's quota of {grant.max_renders}")
        if of != grant.max_renders:
            problems.append(f"the output states a quota of {of}, the signed grant {grant.max_renders}")
    card_match = None
    if talent_card is not None:
        card_key = _card_key(talent_card)
        card_match = card_key is not None and card_key == public
        if not card_match:
            problems.append("the grant was not signed by the key on the talent card")
    revoked = None
    if revocations is not None and grant is not None:
        revoked, more = _revoked(revocations, public, grant.id, Revocation)
        problems += more
        if revoked is not None and when is not None and revoked <= when:
            problems.append(f"the grant was revoked on {revoked.isoformat()}, before this render")
    head = assertion.get("audit_head")
    head_ok, head_seq = None, None
    if isinstance(head, dict):
        checked = check_head(head)
        # The head must be signed by the very certificate that signed the manifest (by hash, not serial).
        head_ok = checked.ok and (manifest is None or (manifest.signer_sha256 is not None and checked.certificate_sha256 == manifest.signer_sha256))
        head_seq = head.get("seq") if isinstance(head.get("seq"), int) and not isinstance(head.get("seq"), bool) else None
        if not checked.ok:
            problems.append(f"audit head: {checked.problem}")
        elif not head_ok:
            problems.append("the audit head was signed by another certificate than the manifest")
    else:
        problems.append("the output carries no signed audit head")
    return ConsentProof(
        present=True,
        ok=not problems,
        grant_id=grant.id if grant else (str(assertion.get("grant_id")) if isinstance(assertion.get("grant_id"), str) else None),
        identity=grant.identity if grant else None,
        signer_role=grant.signer_role if grant else None,
        talent_key=fingerprint,
        talent_card=card_match,
        n=n if isinstance(n, int) and not isinstance(n, bool) else None,
        of=of if isinstance(of, int) and not isinstance(of, bool) else None,
        render_time=when.isoformat() if when else None,
        not_before=grant.not_before.isoformat() if grant else None,
        expires=grant.expires.isoformat() if grant else None,
        revoked=revoked.isoformat() if revoked else None,
        head_seq=head_seq,
        head_ok=head_ok,
        vault=grant.vault if grant else None,
        problems=tuple(problems),
    )


def duplicates(verdicts: list[Verdict]) -> list[str]:
    """Proof of a reset counter: two different renders carrying one number under one grant."""
    seen: dict[tuple[str, int], set[str]] = defaultdict(set)
    for v in verdicts:
        if v.consent.present and v.consent.grant_id and v.consent.n is not None and v.c2pa.render_id is not None:
            seen[(v.consent.grant_id, v.consent.n)].add(hex_id(v.c2pa.render_id) or "")
    return [
        f"renders {', '.join(sorted(ids))} all carry number {n} under grant {grant}: the render counter was reset"
        for (grant, n), ids in sorted(seen.items()) if len(ids) > 1
    ]


def _card_key(card: dict[str, Any]) -> bytes | None:
    from likeness.vault.talent_keys import key_fingerprint

    try:
        key = base64.b64decode(str(card.get("public_key", "")), validate=True)
    except ValueError:
        return None
    if len(key) != 32 or card.get("fingerprint") not in (None, key_fingerprint(key)):
        return None
    return key


def _revoked(document: dict[str, Any], public: bytes, grant_id: str, revocation_type: Any) -> tuple[datetime | None, list[str]]:
    """When the talent's signed revocations file revokes ``grant_id`` (None: it does not)."""
    from likeness.errors import ConsentError
    from likeness.vault.talent_keys import read_signed

    if _card_key(document) != public:
        return None, ["the revocations file is for another talent key than the one that signed the grant"]
    problems, found = [], None
    items = document.get("revocations")
    if not isinstance(items, list):
        return None, ["the revocations file holds no list of revocations"]
    for item in items:
        data = read_signed(str(item.get("payload", "")), str(item.get("signature", "")), public) if isinstance(item, dict) else None
        if data is None:
            problems.append("a revocation in the file does not verify against the talent key")
            continue
        try:
            revocation = revocation_type.from_payload(data)
        except ConsentError:
            problems.append("a revocation in the file is unreadable")
            continue
        if revocation.grant_id == grant_id:
            found = revocation.revoked if found is None else min(found, revocation.revoked)
    return found, problems


def _when(text: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _invalid_reason(manifest: Manifest) -> str:
    text = "; ".join(manifest.failures) or "invalid"
    if "dataHash.mismatch" in text or "hash" in text.lower():
        return f"the C2PA manifest does not match these pixels (it was copied from another file, or the file was changed): {text}"
    return f"the C2PA manifest does not validate: {text}"


def _signer(manifest: Manifest) -> str:
    name = manifest.signer or "an unnamed signer"
    return f"{name}, certificate sha256:{manifest.signer_sha256}" if manifest.signer_sha256 else name


def _vault_root(vault: Any) -> bytes | None:
    if vault is None:
        return None
    try:
        return vault.c2pa_root()
    except LikenessError:
        return None


def _registry_record(vault: Any, **key: Any) -> tuple[Any, str | None]:
    """The render row that agrees with its keyed audit entry, or None and why."""
    try:
        return vault.verified_render(**key)
    except LikenessError as exc:
        return None, f"the render registry could not be read: {exc}"


def _registry(vault: Any, **key: Any) -> tuple[dict[str, Any] | None, str | None]:
    record, why = _registry_record(vault, **key)
    if record is None:
        return None, why
    data = asdict(record)
    data.pop("fingerprint", None)
    data["render_id"] = hex_id(record.render_id)
    return {k: (v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)) for k, v in data.items()}, None


def _frames(path: Path) -> list[Image]:
    """The image, or up to ``MAX_VIDEO_FRAMES`` evenly sampled frames of a video."""
    from likeness import media

    if path.suffix.lower() in VIDEO_SUFFIXES or media.is_video(path):
        info = media.probe(path)
        total = max(1, int(info.frame_count or 1))
        step = max(1, total // MAX_VIDEO_FRAMES)
        frames = []
        with media.read_frames(path) as reader:
            for frame in reader:
                if frame.index % step == 0:
                    frames.append(frame.image)
                if len(frames) >= MAX_VIDEO_FRAMES:
                    break
        if not frames:
            raise InputError(f"{path}: no frames could be decoded")
        return frames
    return [media.read_image(path)]


def _detect(marker: Watermarker, frames: list[Image]) -> Detection:
    if len(frames) == 1:
        return marker.detect(frames[0])
    # Pool in groups so a scene cut or a fade cannot drown the rest; any group may find it.
    pooled = marker.detect_frames(frames)
    if pooled.found:
        return pooled
    for start in range(0, len(frames), 4):
        found = marker.detect_frames(frames[start : start + 4])
        if found.found:
            return found
    return pooled


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    """A small JSON file the user names (talent card, revocations, head), or one clear InputError."""
    try:
        if path.stat().st_size > 1 << 20:
            raise InputError(f"{path}: too large for a {what} (over 1 MiB)")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (the {what})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a {what} ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a {what}")
    return data
