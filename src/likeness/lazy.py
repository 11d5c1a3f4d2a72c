"""Package names imported on first use, so that ``import likeness.x`` stays cheap.

A package lists which module holds each heavy name and sets ``__getattr__ = lazy(__name__,
names)``: ``likeness --help`` then loads no SQLAlchemy, PyAV or mediapipe.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` and returns its ``name``."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
