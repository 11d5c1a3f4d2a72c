"""Talent owner keys: Ed25519, sealed under the talent's own passphrase, never the vault's.

That separation is the point: an operator who knows the vault passphrase can read the vault
but cannot sign a grant in the talent's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from likeness.errors import ConsentError, VaultError
from likeness.vault.crypto import KdfParams, associated_data, derive_key, new_kdf_params, seal, unseal


@dataclass(frozen=True)
class SealedOwnerKey:
    public_raw: bytes
    sealed_private: bytes
    kdf_json: str


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
    return SealedOwnerKey(public, sealed, kdf_json)


def unlock_owner_key(identity_name: str, identity_id: str, sealed: bytes, kdf_json: str, talent_passphrase: str | None) -> Ed25519PrivateKey:
    """The owner's private key, or ConsentError when the talent passphrase is wrong or missing."""
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
