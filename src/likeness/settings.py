"""Where likeness keeps its state, read once from the environment and passed around."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class Settings:
    """Paths and secrets sources; build with :func:`from_env` and pass it down."""

    home: Path
    database_url: str
    passphrase: str | None = None
    talent_passphrase: str | None = None
    ray_address: str | None = None  # the Ray cluster renders with --executor ray join (None: a local one per render)

    @property
    def blobs(self) -> Path:
        return self.home / "blobs"


def from_env(env: dict[str, str] | None = None) -> Settings:
    """Settings from ``LIKENESS_HOME``, ``LIKENESS_DATABASE_URL``, the passphrase variables and ``LIKENESS_RAY_ADDRESS``."""
    env = dict(os.environ) if env is None else env
    home = Path(env.get("LIKENESS_HOME") or platformdirs.user_data_dir("likeness")).expanduser()
    url = env.get("LIKENESS_DATABASE_URL") or f"sqlite:///{home / 'vault.db'}"
    return Settings(
        home=home,
        database_url=url,
        passphrase=env.get("LIKENESS_PASSPHRASE"),
        talent_passphrase=env.get("LIKENESS_TALENT_PASSPHRASE"),
        ray_address=env.get("LIKENESS_RAY_ADDRESS") or None,
    )
