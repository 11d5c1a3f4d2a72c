"""mediapipe's legacy solutions (face detection, face mesh, hands) without ``import mediapipe``.

``mediapipe/__init__.py`` imports every solution and the whole tasks API: the drawing utilities
pull in matplotlib and the audio tasks sounddevice, 0.5 s of a 0.75 s import on a quiet machine,
none of it used here. So :func:`solutions` registers the packages ``mediapipe`` and
``mediapipe.python.solutions`` as their folders only (the module objects Python would make, not
yet run) and imports into them just the C++ bindings and the solution modules (``USED``).

Nothing is stubbed or replaced: the first time anything else is asked of either package
(``mp.tasks``, ``mp.solutions.drawing_utils``, ``mp.Image``), both run their real ``__init__``,
so other code in the process that imports mediapipe the usual way gets the whole package. When
mediapipe was already imported the usual way, it is used as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from functools import partial
from types import ModuleType

PACKAGE, SOLUTIONS = "mediapipe", "mediapipe.python.solutions"
# Every module mediapipe/python/solutions/__init__.py imports, but the two drawing ones. Not only
# the three we run: a graph's calculator options are read through the protobuf types the process
# has imported, and without holistic's (tensors_to_floats_calculator_pb2) the face mesh finds
# other faces (syn_t2i_sideways_FLUX1_schnell_image_0010489: none instead of one).
# download_utils comes first: pose and holistic take it with `from ... import`, which on a
# package without the name would ask the package for it and so run the real __init__.
USED = ("download_utils", "face_detection", "face_mesh", "face_mesh_connections", "hands", "hands_connections", "holistic", "objectron",
        "pose", "selfie_segmentation")


def solutions() -> ModuleType:
    """``mediapipe.python.solutions`` with ``face_detection``, ``face_mesh``, ``hands`` and the rest of ``USED`` imported."""
    if PACKAGE not in sys.modules:
        _register_unrun(PACKAGE)
    if SOLUTIONS not in sys.modules:
        importlib.import_module("mediapipe.python")  # the bindings; its __init__ imports nothing more
        _register_unrun(SOLUTIONS)
    for name in USED:
        importlib.import_module(f"{SOLUTIONS}.{name}")
    return sys.modules[SOLUTIONS]


def _register_unrun(name: str) -> None:
    """Put the package ``name`` in sys.modules as the import system makes it, before its __init__ runs."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"{name} is not installed; run `make venv`")
    module = importlib.util.module_from_spec(spec)
    module.__getattr__ = partial(_finish_on_demand, name)  # type: ignore[attr-defined] - PEP 562, looked up in the module's dict
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def _finish_on_demand(package: str, attr: str) -> object:
    """``package`` lacks ``attr``: run both real ``__init__``s (solutions first, as mediapipe's
    own does), then look again."""
    if attr.startswith("__"):
        raise AttributeError(attr)  # dunder probes (copy, pickle, inspect) must not trigger the import
    for name in (SOLUTIONS, PACKAGE):
        module = sys.modules.get(name)
        if module is not None and module.__dict__.pop("__getattr__", None) is not None:
            module.__spec__.loader.exec_module(module)  # type: ignore[union-attr]
    try:
        return sys.modules[package].__dict__[attr]
    except KeyError:
        raise AttributeError(f"module {package!r} has no attribute {attr!r}") from None
