"""Talent owner keys: Ed25519, sealed under the talent's own passphrase, never the vault's.

That separation is the point: an operator who knows the vault passphrase can read the vault
but cannot sign a grant in the talent's name.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from likeness.errors import ConsentError, VaultError
from likeness.vault.crypto import KdfParams, associated_data, derive_key, new_kdf_params, seal, unseal


STATEMENT_TYPE = "likeness.enrolment/1"
HELD_BY_TALENT = "held-by-talent"  # owner_kdf of an identity whose private key never reached the vault


@dataclass(frozen=True)
class SealedOwnerKey:
    public_raw: bytes
    sealed_private: bytes
    kdf_json: str
    key: Ed25519PrivateKey  # in memory only, to sign the enrolment statement; never stored


def held_owner_key(key: Ed25519PrivateKey) -> SealedOwnerKey:
    """An owner key the talent keeps: the vault stores its public half only."""
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SealedOwnerKey(public, b"", HELD_BY_TALENT, key)


def key_fingerprint(public_raw: bytes) -> str:
    """SHA-256 of the raw Ed25519 public key, hex: what grants name and talents compare."""
    return hashlib.sha256(public_raw).hexdigest()


def canonical_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign_payload(key: Ed25519PrivateKey, payload: dict[str, Any]) -> tuple[str, str]:
    """(canonical text, base64 signature) of ``payload``."""
    text = canonical_text(payload)
    return text, base64.b64encode(key.sign(text.encode("utf-8"))).decode("ascii")


def enrolment_statement(identity_id: str, name: str, public_raw: bytes, vault_id: str, time: str) -> dict[str, Any]:
    """What the talent signs at enrolment: this key speaks for this identity in this vault."""
    return {
        "type": STATEMENT_TYPE,
        "identity_id": identity_id,
        "name": name,
        "public_key": base64.b64encode(public_raw).decode("ascii"),
        "fingerprint": key_fingerprint(public_raw),
        "vault": vault_id,
        "time": time,
    }


def read_signed(payload: str, signature: str, public_raw: bytes) -> dict[str, Any] | None:
    """The payload as a dict when it is canonical JSON signed by ``public_raw``; else None."""
    try:
        data = json.loads(payload)
        raw_sig = base64.b64decode(signature, validate=True)
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or canonical_text(data) != payload:
        return None
    return data if verify_signature(public_raw, raw_sig, payload.encode("utf-8")) else None


def check_statement(payload: str, signature: str, *, identity_id: str, name: str, public_raw: bytes, vault_id: str) -> list[str]:
    """What does not match between an identity row and its enrolment statement (empty: all holds)."""
    try:
        claimed = base64.b64decode(json.loads(payload).get("public_key", ""), validate=True)
    except (ValueError, TypeError, AttributeError):
        return ["its enrolment statement is unreadable"]
    data = read_signed(payload, signature, claimed)
    if data is None or data.get("type") != STATEMENT_TYPE:
        return ["its enrolment statement's signature does not verify"]
    problems = []
    if claimed != public_raw:
        problems.append(
            f"its owner key {key_fingerprint(public_raw)[:16]} is not the key {key_fingerprint(claimed)[:16]} its enrolment statement pins"
        )
    if data.get("identity_id") != identity_id:
        problems.append(f"the row's id {identity_id} is not the id {data.get('identity_id')} its enrolment statement names")
    if data.get("name") != name:
        problems.append(f"the row's name {name!r} is not the name {data.get('name')!r} its enrolment statement names")
    if data.get("vault") != vault_id:
        problems.append(f"its enrolment statement was signed for vault {data.get('vault')}, not this vault {vault_id}")
    return problems


def new_owner_key(identity_id: str, talent_passphrase: str, *, scrypt_n: int) -> SealedOwnerKey:
    """A fresh Ed25519 key whose private half only the talent passphrase opens."""
    if not talent_passphrase:
        raise VaultError("no talent passphrase: set LIKENESS_TALENT_PASSPHRASE or enter it at the prompt")
    params = new_kdf_params(scrypt_n)
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    sealed = seal(derive_key(talent_passphrase, params), raw, associated_data("owner-key", identity_id))
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kdf_json = json.dumps({"salt": params.salt.hex(), "n": params.n, "r": params.r, "p": params.p})
    return SealedOwnerKey(public, sealed, kdf_json, key)


def unlock_owner_key(identity_name: str, identity_id: str, sealed: bytes, kdf_json: str, talent_passphrase: str | None) -> Ed25519PrivateKey:
    """The owner's private key, or ConsentError when the talent passphrase is wrong or missing."""
    if kdf_json == HELD_BY_TALENT:
        raise ConsentError(f"the talent holds {identity_name!r}'s key: sign on their machine with `likeness sign FILE --key KEY_FILE`")
    if not talent_passphrase:
        raise ConsentError(f"signing for {identity_name!r} needs the talent passphrase (LIKENESS_TALENT_PASSPHRASE)")
    kdf = json.loads(kdf_json)
    params = KdfParams(salt=bytes.fromhex(kdf["salt"]), n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
    try:
        raw = unseal(derive_key(talent_passphrase, params), sealed, associated_data("owner-key", identity_id), what="owner key")
    except VaultError:
        raise ConsentError(f"wrong talent passphrase for {identity_name!r}") from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def verify_signature(public_raw: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def new_key_file(passphrase: str) -> tuple[bytes, bytes]:
    """(key file, raw public key): a fresh Ed25519 key the talent keeps, encrypted under their passphrase."""
    if len(passphrase) < 8:
        raise VaultError("a key file passphrase needs at least 8 characters")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(passphrase.encode("utf-8")))
    return pem, key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_key_file(data: bytes, passphrase: str | None, *, source: str = "key file") -> Ed25519PrivateKey:
    """The talent's key from their key file; one clear ConsentError on a wrong passphrase or file."""
    if not passphrase:
        raise ConsentError(f"{source}: needs its passphrase (LIKENESS_TALENT_PASSPHRASE)")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode("utf-8"))
    except (ValueError, TypeError):
        raise ConsentError(f"{source}: wrong passphrase, or not a likeness key file") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConsentError(f"{source}: not an Ed25519 key")
    return key


STATEMENT_MAX_AGE_S = 3600  # a statement signed in a browser must be recent when it is handed in


def signed_statement_owner(payload: str, signature: str, *, name: str, vault_id: str) -> SealedOwnerKey:
    """The owner key of an enrolment statement the talent signed elsewhere (their browser), checked:
    canonical, signed by the key it names, for this name and this vault, and recent."""
    from datetime import datetime, timezone

    try:
        public = base64.b64decode(json.loads(payload).get("public_key", ""), validate=True)
    except (ValueError, TypeError, AttributeError):
        raise ConsentError("the enrolment statement is unreadable") from None
    data = read_signed(payload, signature, public) if len(public) == 32 else None
    if data is None or data.get("type") != STATEMENT_TYPE:
        raise ConsentError("the enrolment statement's signature does not verify against the key it names")
    if data.get("name") != name or data.get("vault") != vault_id or data.get("fingerprint") != key_fingerprint(public):
        raise ConsentError("the enrolment statement is for another name, vault or key")
    try:
        age = (datetime.now(timezone.utc) - datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))).total_seconds()
    except (KeyError, ValueError):
        raise ConsentError("the enrolment statement has no readable time") from None
    if not -300 <= age <= STATEMENT_MAX_AGE_S:
        raise ConsentError("the enrolment statement is too old (or from the future): sign a fresh one")
    return SealedOwnerKey(public, b"", HELD_BY_TALENT, None)  # type: ignore[arg-type]
