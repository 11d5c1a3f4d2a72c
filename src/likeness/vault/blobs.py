"""Blob files: sealed bytes in ``LIKENESS_HOME/blobs``, written atomically.

The temporary file lives in the same folder (so the rename is atomic) and only ever holds
ciphertext: sealing happens in memory before the first byte is written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from likeness.errors import VaultError

SUFFIX = ".blob"
TEMP_PREFIX = ".tmp-"


def blob_path(folder: Path, blob_id: str) -> Path:
    return folder / f"{blob_id}{SUFFIX}"


def write_blob(folder: Path, blob_id: str, sealed: bytes) -> Path:
    """Write ``sealed`` under ``blob_id``: temp name, fsync, rename, fsync the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    final = blob_path(folder, blob_id)
    temp = folder / f"{TEMP_PREFIX}{blob_id}-{os.getpid()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(sealed)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def read_blob(folder: Path, blob_id: str) -> bytes:
    path = blob_path(folder, blob_id)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise VaultError(f"blob {path} is missing") from None
    except OSError as exc:
        raise VaultError(f"blob {path} cannot be read: {exc.strerror}") from None


def delete_blob(folder: Path, blob_id: str) -> None:
    blob_path(folder, blob_id).unlink(missing_ok=True)


def stray_files(folder: Path, known: set[str], *, min_age_s: float) -> list[Path]:
    """Blob and temp files no row points to, older than ``min_age_s`` (younger ones may be an
    enrolment still running in another process, whose rows are not committed yet)."""
    if not folder.is_dir():
        return []
    cutoff = time.time() - min_age_s
    strays = []
    for path in folder.iterdir():
        name = path.name
        if name.startswith(TEMP_PREFIX) or (name.endswith(SUFFIX) and name[: -len(SUFFIX)] not in known):
            try:
                if path.stat().st_mtime <= cutoff:
                    strays.append(path)
            except FileNotFoundError:
                continue
    return strays
