"""Envelope encryption: a passphrase-derived master key wraps per-identity data keys.

Every ciphertext is AES-256-GCM with associated data naming what it is, so a blob moved to
another identity, id or kind fails to decrypt instead of being silently accepted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from likeness.errors import VaultError

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT = b"LK1"  # leading bytes of every sealed value: format version, then nonce, then ciphertext
DEFAULT_SCRYPT_N = 2**15  # 32 MiB with r=8: memory-hard enough that a GPU farm gains little


@dataclass(frozen=True)
class KdfParams:
    """scrypt parameters, stored beside the salt so a vault opens with what made it."""

    salt: bytes
    n: int = DEFAULT_SCRYPT_N
    r: int = 8
    p: int = 1


def new_kdf_params(n: int = DEFAULT_SCRYPT_N) -> KdfParams:
    """Fresh random salt; ``n`` must be a power of two (2**15 or more outside tests)."""
    if n < 2 or n & (n - 1):
        raise VaultError(f"scrypt n must be a power of two, got {n}")
    return KdfParams(salt=os.urandom(16), n=n)


def derive_key(passphrase: str, params: KdfParams) -> bytes:
    """A 32-byte key from a passphrase with scrypt (memory-hard)."""
    kdf = Scrypt(salt=params.salt, length=KEY_BYTES, n=params.n, r=params.r, p=params.p)
    return kdf.derive(passphrase.encode("utf-8"))


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """Encrypt and authenticate; ``associated`` is bound to the ciphertext but not stored."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def unseal(key: bytes, sealed: bytes, associated: bytes, *, what: str) -> bytes:
    """Decrypt or raise VaultError naming ``what`` (wrong key, tampered, truncated or misplaced)."""
    head = len(FORMAT) + NONCE_BYTES
    if len(sealed) < head + 16 or not sealed.startswith(FORMAT):
        raise VaultError(f"{what} is truncated or not a likeness ciphertext")
    try:
        return AESGCM(key).decrypt(sealed[len(FORMAT) : head], sealed[head:], associated)
    except InvalidTag:
        raise VaultError(f"{what} is corrupt or was encrypted under another key") from None


def associated_data(*parts: str) -> bytes:
    """Unambiguous associated data from labelled parts (no part may contain the separator)."""
    for part in parts:
        if "\x1f" in part:
            raise VaultError("associated-data part contains the separator")
    return "\x1f".join(("likeness",) + parts).encode("utf-8")
