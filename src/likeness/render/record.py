"""The record of a render is the vault's :class:`likeness.vault.RenderRecord`.

The vault keeps render id, grant, identity, hashes, engine, settings and time; what else the
pipeline knows (paths, frame counts, failed frames) travels in ``settings``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from likeness.vault import RenderRecord


def record_dict(record: RenderRecord) -> dict[str, Any]:
    """A JSON-ready dict of a record (what ``likeness swap --json`` prints)."""
    return asdict(record)


__all__ = ["RenderRecord", "record_dict"]
