"""Talent data across a cluster: sealed under a key of the render's own, opened only in a worker's memory.

Everything a cluster render puts through Ray (the faceset, an autoencoder's weights, the studio's
watermark key, the faces found in the target, the plan, the encoded pieces) is sealed with
AES-256-GCM under a fresh key per render (:class:`RenderKey`), bound by its associated data to
what it is, so a sealed value cannot be passed off as another. The key itself reaches a worker
wrapped to that worker's own X25519 key (:class:`WorkerKey`, made in the worker's memory when it
starts, never stored): an ephemeral X25519 agreement, HKDF-SHA256, AES-256-GCM. Ray's object
store, its spill files, its logs and its temporary folder therefore only ever hold ciphertext
and public keys; a worker that is restarted makes a new key, and the driver wraps the render key
to it again.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from likeness.errors import LikenessError

NONCE = 12
WRAP_INFO = b"likeness render key wrap v1"
_RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


class SealError(LikenessError):
    """A sealed value did not open: another render's, altered, or not what it claims to be."""


class RenderKey:
    """The AES-256-GCM key of one render; lives in memory only (the driver's and its workers')."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a render key is 32 bytes")
        self._aead = AESGCM(key)
        self._key = key

    @classmethod
    def generate(cls) -> RenderKey:
        return cls(AESGCM.generate_key(bit_length=256))

    def seal(self, value: Any, what: str) -> bytes:
        """``value`` pickled and encrypted; ``what`` names it (checked when opened)."""
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), what.encode())

    def open(self, sealed: bytes, what: str) -> Any:
        """The value sealed as ``what`` by this render (:class:`SealError` otherwise)."""
        try:
            plain = self._aead.decrypt(bytes(sealed[:NONCE]), bytes(sealed[NONCE:]), what.encode())
        except InvalidTag:
            raise SealError(f"{what}: does not open with this render's key") from None
        return pickle.loads(plain)  # noqa: S301 - authenticated: only this render's driver or workers sealed it

    def wrap_for(self, public_key: bytes) -> bytes:
        """This key, readable only with the private half of ``public_key`` (a worker's)."""
        ephemeral = X25519PrivateKey.generate()
        mine = ephemeral.public_key().public_bytes(**_RAW)
        kek = _kek(ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key)), mine, public_key)
        nonce = os.urandom(NONCE)
        return mine + nonce + AESGCM(kek).encrypt(nonce, self._key, b"render key")


class WorkerKey:
    """A worker's X25519 key pair, made in its memory; the render key is wrapped to its public half."""

    def __init__(self) -> None:
        self._private = X25519PrivateKey.generate()
        self.public = self._private.public_key().public_bytes(**_RAW)

    def unwrap(self, wrapped: bytes) -> RenderKey:
        theirs, nonce, body = wrapped[:32], wrapped[32:32 + NONCE], wrapped[32 + NONCE:]
        kek = _kek(self._private.exchange(X25519PublicKey.from_public_bytes(theirs)), theirs, self.public)
        try:
            return RenderKey(AESGCM(kek).decrypt(nonce, body, b"render key"))
        except InvalidTag:
            raise SealError("the render key was wrapped for another worker") from None


def _kek(shared: bytes, sender: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=WRAP_INFO + sender + recipient).derive(shared)
