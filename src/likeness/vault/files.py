"""Private files and folders under ``LIKENESS_HOME``: files 0600, folders 0700, whatever the umask.

``private_dir`` before anything is written in a folder; ``private_file`` on the SQLite database
path before SQLAlchemy first opens it: SQLite gives the ``-wal`` and ``-shm`` files it creates
later the same mode as the database file.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents, 0700) if needed; make it 0700. Returns it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)  # mode is filtered by the umask: set it below
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, never through a symlink; make it 0600. Returns it."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for other databases or in-memory SQLite)."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split("///", 1)[-1] if "///" in database_url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def private_database(database_url: str) -> None:
    """Make the SQLite database file (and its -wal/-shm/-journal when present) 0600; nothing for other databases."""
    path = sqlite_file(database_url)
    if path is None:
        return
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            os.chmod(extra, FILE_MODE)
