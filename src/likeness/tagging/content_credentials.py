"""C2PA Content Credentials: sign every output with the studio chain, read them back offline.

The SDK files custom assertions as *gathered* (unvouched) by default and embeds a thumbnail (which
would copy a face into the manifest) and fetches remote manifests: all three are turned off here
by settings, so the signature covers our actions, soft binding and consent assertion, nothing
leaves the machine, and no face is copied.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import c2pa

from likeness.errors import InputError

COMPOSITE_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
CONSENT_LABEL = "com.likeness.consent"
SOFT_BINDING_LABEL = "c2pa.soft-binding"
SOFT_BINDING_ALG = "com.likeness.watermark.v1"
SIGNABLE = {".jpg", ".jpeg", ".png", ".webp", ".mp4", ".mov"}
SIDECAR_ONLY = {".glb"}  # the SDK cannot embed a manifest in these: it goes beside the file, bound to its bytes
SIDECAR_SUFFIX = ".c2pa"
MAX_SIDECAR_BYTES = 4 << 20
CONSENT_KEYS = ("grant_id", "scope", "signer_role", "expires", "vault", "grant", "render", "audit_head")


@dataclass(frozen=True)
class Manifest:
    """What the active manifest of a file says, and whether it holds.

    ``state``: "trusted" (valid and chained to the given studio root), "valid" (signature and
    hashes good, signer unknown), "invalid" (something does not match: changed pixels, bad
    signature) or "absent".
    """

    state: str
    render_id: int | None = None
    digital_source_type: str | None = None
    consent: dict[str, Any] = field(default_factory=dict)
    signer: str | None = None
    actions: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    signer_serial: int | None = None  # serial number of the signing certificate
    signer_sha256: str | None = None  # SHA-256 fingerprint of the signing certificate, when found in the file


def _context(settings: dict[str, Any]) -> c2pa.Context:
    return c2pa.Context(c2pa.Settings.from_dict(settings))


def _manifest(title: str, mime: str, render_id: int, consent: dict[str, Any]) -> dict[str, Any]:
    """The manifest every output gets: created (AI composite), watermarked, soft binding, consent."""
    shown = {k: consent[k] for k in CONSENT_KEYS if consent.get(k) is not None}
    agent = {"name": "likeness", "version": _version()}
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": mime,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": "c2pa.created", "digitalSourceType": COMPOSITE_SOURCE, "softwareAgent": agent},
                        {"action": "c2pa.watermarked", "softwareAgent": agent, "parameters": {"alg": SOFT_BINDING_ALG}},
                    ]
                },
            },
            {
                "label": SOFT_BINDING_LABEL,
                "data": {
                    "alg": SOFT_BINDING_ALG,
                    "blocks": [{"scope": {}, "value": base64.b64encode(int(render_id).to_bytes(8, "big")).decode()}],
                },
            },
            {"label": CONSENT_LABEL, "data": shown},
        ],
    }


def _builder(manifest: dict[str, Any], chain_pem: bytes, key_pem: bytes) -> tuple[c2pa.Builder, c2pa.Signer]:
    settings = {
        "builder": {
            "thumbnail": {"enabled": False},
            "created_assertion_labels": ["c2pa.actions", SOFT_BINDING_LABEL, CONSENT_LABEL],
        },
        "verify": {"remote_manifest_fetch": False},
    }
    info = c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain_pem, private_key=key_pem, ta_url=None)
    return c2pa.Builder(manifest, _context(settings)), c2pa.Signer.from_info(info)


def sign(
    src: str | Path,
    dst: str | Path,
    *,
    chain_pem: bytes,
    key_pem: bytes,
    render_id: int,
    consent: dict[str, Any],
) -> None:
    """Write ``dst``: ``src`` with a signed manifest (created, watermarked, soft binding, consent)."""
    src, dst = Path(src), Path(dst)
    suffix = src.suffix.lower()
    if suffix not in SIGNABLE:
        raise InputError(f"{src}: cannot sign {suffix or 'a file without suffix'}; C2PA signing covers {', '.join(sorted(SIGNABLE))}")
    if not src.is_file():
        raise InputError(f"{src}: no such file to sign")
    try:
        builder, signer = _builder(_manifest(dst.name, _mime(suffix), render_id, consent), chain_pem, key_pem)
        builder.sign_file(str(src), str(dst), signer)
    except c2pa.C2paError as exc:
        raise InputError(f"{src}: C2PA signing failed: {_one_line(exc)}") from exc


def sign_sidecar(
    asset: str | Path,
    sidecar: str | Path,
    *,
    title: str,
    chain_pem: bytes,
    key_pem: bytes,
    render_id: int,
    consent: dict[str, Any],
) -> None:
    """Write ``sidecar``: a signed manifest store bound to ``asset``'s bytes, for a format the SDK cannot embed in.

    The SDK's hard binding is then a data hash over the whole asset (``c2pa.hash.data``), so
    any change to the asset, or to the sidecar, fails validation. ``asset`` is left as it is.
    """
    asset, sidecar = Path(asset), Path(sidecar)
    suffix = asset.suffix.lower()
    if suffix not in SIDECAR_ONLY:
        raise InputError(f"{asset}: a sidecar manifest is for {', '.join(sorted(SIDECAR_ONLY))}; sign {suffix} files in place")
    try:
        builder, signer = _builder(_manifest(title, _mime(suffix), render_id, consent), chain_pem, key_pem)
        builder.set_no_embed()
        with open(asset, "rb") as source:
            store = builder.sign(signer, _mime(suffix), source, io.BytesIO())
    except c2pa.C2paError as exc:
        raise InputError(f"{asset}: C2PA signing failed: {_one_line(exc)}") from exc
    except OSError as exc:
        raise InputError(f"{asset}: cannot read it to sign ({exc.strerror})") from None
    sidecar.write_bytes(store)


def sidecar_of(path: str | Path) -> Path | None:
    """The sidecar manifest beside ``path`` (``face.c2pa`` or ``face.glb.c2pa``), if there is one."""
    path = Path(path)
    for candidate in (path.with_suffix(SIDECAR_SUFFIX), path.with_name(path.name + SIDECAR_SUFFIX)):
        if candidate.is_file():
            return candidate
    return None


def read_manifest(path: str | Path, trust_root: bytes | None = None, *, sidecar: str | Path | None = None) -> Manifest:
    """The active manifest of ``path`` and its validation state, offline.

    ``trust_root``: one or more PEM root certificates; "trusted" means chained to one of them.
    ``sidecar``: a manifest store kept beside the file (formats the SDK cannot embed in), checked
    against the file's bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "verify_trust": trust_root is not None}}
    if trust_root is not None:
        settings["trust"] = {"trust_anchors": trust_root.decode()}
    try:
        if sidecar is not None:
            store_bytes = _small_file(Path(sidecar))
            with open(path, "rb") as asset:
                reader = c2pa.Reader(_mime(path.suffix.lower()), asset, store_bytes, context=_context(settings))
        else:
            reader = c2pa.Reader(str(path), context=_context(settings))
    except c2pa.C2paError as exc:
        text = _one_line(exc)
        if "ManifestNotFound" in type(exc).__name__ or "not found" in text.lower() or "no jumbf" in text.lower():
            return Manifest(state="absent")
        if "NotSupported" in type(exc).__name__:
            return Manifest(state="absent", failures=(text,))
        return Manifest(state="invalid", failures=(text,))
    try:
        store = json.loads(reader.json())
    finally:
        reader.close()
    manifest = _summarise(store)
    if manifest.signer_serial is not None:
        manifest = replace(manifest, signer_sha256=_certificate_sha256(Path(sidecar) if sidecar is not None else path, manifest.signer_serial))
    return manifest


def _certificate_sha256(path: Path, serial: int) -> str | None:
    """SHA-256 of the DER certificate with ``serial`` embedded in the file (the signer's), if found.

    The SDK does not hand out the signing certificate; the manifest store holds it as DER
    inside the COSE signature, so the file is scanned (memory-mapped, never read whole) for
    certificates and the one whose serial the SDK reported as the signer's is taken. Two
    different certificates with that serial in one file are a decoy: no answer then.
    """
    import mmap

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    found: set[str] = set()
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            start = 0
            while True:
                at = data.find(b"\x30\x82", start)
                if at < 0 or at + 4 > len(data):
                    break
                length = int.from_bytes(data[at + 2 : at + 4], "big") + 4
                start = at + 1
                if length < 200 or at + length > len(data):
                    continue
                try:
                    cert = x509.load_der_x509_certificate(data[at : at + length])
                except ValueError:
                    continue
                if cert.serial_number == serial:
                    found.add(cert.fingerprint(hashes.SHA256()).hex())
    except (OSError, ValueError):
        return None
    return found.pop() if len(found) == 1 else None


def _summarise(store: dict[str, Any]) -> Manifest:
    active = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    state_raw = (store.get("validation_state") or "").lower()
    failures = tuple(
        f"{item.get('code')}: {item.get('explanation', '')}".strip()
        for item in (store.get("validation_results", {}).get("activeManifest", {}).get("failure") or [])
    )
    state = {"trusted": "trusted", "valid": "valid"}.get(state_raw, "invalid")
    # A signer outside the given trust root is unknown, not a forgery: that is "valid".
    real = tuple(f for f in failures if not f.startswith("signingCredential.untrusted"))
    if state == "invalid" and failures and not real:
        state = "valid"
    elif state != "invalid" and real:
        state = "invalid"
    failures = real
    render_id = None
    source = None
    consent: dict[str, Any] = {}
    actions: list[str] = []
    for assertion in active.get("assertions", []):
        label, data = assertion.get("label", ""), assertion.get("data", {})
        if label.startswith("c2pa.actions"):
            for action in data.get("actions", []):
                actions.append(action.get("action", ""))
                source = action.get("digitalSourceType") or source
        elif label == SOFT_BINDING_LABEL and data.get("alg") == SOFT_BINDING_ALG:
            try:
                render_id = int.from_bytes(base64.b64decode(data["blocks"][0]["value"]), "big")
            except (KeyError, IndexError, ValueError):
                failures = failures + ("soft binding value unreadable",)
        elif label == CONSENT_LABEL:
            consent = dict(data) if isinstance(data, dict) else {"unreadable": True}
    info = active.get("signature_info") or {}
    try:
        serial = int(info["cert_serial_number"]) if info.get("cert_serial_number") else None
    except (TypeError, ValueError):
        serial = None
    return Manifest(
        state=state,
        render_id=render_id,
        digital_source_type=source,
        consent=consent,
        signer_serial=serial,
        signer=info.get("common_name"),
        actions=tuple(actions),
        failures=failures,
    )


def _small_file(path: Path) -> bytes:
    """A sidecar manifest's bytes (a few kB; anything past MAX_SIDECAR_BYTES is not one)."""
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            raise InputError(f"{path}: too large for a C2PA manifest (over {MAX_SIDECAR_BYTES >> 20} MiB)")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the C2PA sidecar ({exc.strerror})") from None


def _mime(suffix: str) -> str:
    return {
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".png": "image/png",
        ".webp": "image/webp",
        ".mp4": "video/mp4",
        ".mov": "video/quicktime",
        ".glb": "model/gltf-binary",
    }[suffix]


def _version() -> str:
    from likeness import __version__

    return __version__


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
