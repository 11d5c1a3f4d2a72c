"""Signed audit heads: a vault's promise "my chain had this hash at this entry", kept by others.

The studio's C2PA signing key signs the head, and the head carries the signing certificate, so
anyone holding the head can check the signature; the issuing vault can later prove its present
chain extends it (``Vault.check_head``). A talent who saved heads catches an operator who
rewrote or truncated the chain, even one who knows the passphrase. Every output carries the
head as of its consent decision.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from likeness.vault.talent_keys import canonical_text

HEAD_TYPE = "likeness.audit-head/1"
_SIGNED_FIELDS = ("type", "vault", "studio", "seq", "hash", "time")


@dataclass(frozen=True)
class HeadCheck:
    """Whether a head document is well formed and signed by the certificate it carries."""

    ok: bool
    problem: str | None = None
    serial: int | None = None  # the signing certificate's serial number
    certificate_sha256: str | None = None


def sign_head(*, vault_id: str, studio: str, seq: int, hash_hex: str, time: str, key_pem: bytes, cert_pem: bytes) -> dict[str, Any]:
    """A head document signed with the studio leaf key (ES256)."""
    body = {"type": HEAD_TYPE, "vault": vault_id, "studio": studio, "seq": int(seq), "hash": hash_hex, "time": time}
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(canonical_text(body).encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    return dict(body, signature=base64.b64encode(signature).decode("ascii"), certificate=cert_pem.decode("ascii"))


def check_head(document: Any, *, root_pem: bytes | None = None) -> HeadCheck:
    """Check a head's form and signature (and, with ``root_pem``, that the root issued its certificate)."""
    if not isinstance(document, dict) or document.get("type") != HEAD_TYPE:
        return HeadCheck(False, "not a likeness audit head")
    try:
        body = {k: document[k] for k in _SIGNED_FIELDS}
        if not isinstance(body["seq"], int) or isinstance(body["seq"], bool) or not isinstance(body["hash"], str):
            raise ValueError("seq must be a whole number and hash a string")
        cert = x509.load_pem_x509_certificate(str(document["certificate"]).encode("ascii"))
        signature = base64.b64decode(str(document["signature"]), validate=True)
    except (KeyError, TypeError, ValueError, OverflowError, UnicodeError):
        return HeadCheck(False, "the audit head is incomplete or unreadable")
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        return HeadCheck(False, "the audit head's certificate is not an ES256 key")
    try:
        public.verify(signature, canonical_text(body).encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return HeadCheck(False, "the audit head's signature does not verify", cert.serial_number, fingerprint)
    if root_pem is not None:
        try:
            cert.verify_directly_issued_by(x509.load_pem_x509_certificate(root_pem))
        except (ValueError, TypeError, InvalidSignature):
            return HeadCheck(False, "the audit head was signed by a certificate this vault's root did not issue", cert.serial_number, fingerprint)
    return HeadCheck(True, None, cert.serial_number, fingerprint)
