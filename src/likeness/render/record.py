"""The record of one finished render, as the vault keeps it.

ADAPTER: ``docs/interfaces.md`` has ``Vault.record_render(RenderRecord)`` without saying where
``RenderRecord`` lives. The vault cannot import render (arrows point down), so the vault's own
class wins when it exists; this definition stands in until then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

try:  # the vault's type, when it has landed
    from likeness.vault import RenderRecord  # type: ignore[attr-defined]
except ImportError:

    @dataclass(frozen=True)
    class RenderRecord:  # type: ignore[no-redef]
        """One render: who, under which grant, from what to what, with which settings."""

        render_id: int
        grant_id: str
        identity: str
        target: str
        output: str
        target_sha256: str
        output_sha256: str
        engine: str
        settings: dict[str, Any] = field(default_factory=dict)
        created: float = 0.0  # seconds since the epoch
        frames: int = 0
        failed_frames: int = 0

        def to_dict(self) -> dict[str, Any]:
            return asdict(self)


def record_dict(record: Any) -> dict[str, Any]:
    """A JSON-ready dict of a record, whichever class holds it."""
    if hasattr(record, "to_dict"):
        return dict(record.to_dict())
    return dict(asdict(record))
