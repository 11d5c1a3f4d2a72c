"""Identity embeddings: dlib's 128-d ResNet face descriptor, fed by the mediapipe mesh.

dlib's descriptor aligns its input with a 5-point shape (two corners of each eye, the base of
the nose). We build that shape from the mesh, so no second landmark model runs and dlib's
68-point predictor (trained on data whose licence excludes commercial use) is never loaded.

Distances are Euclidean in dlib's space. dlib documents 0.6 as the threshold at which its model
reaches 99.38% on LFW: pairs closer than ``SAME_PERSON_THRESHOLD`` are taken as one person.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dlib
import numpy as np

from likeness.errors import InputError
from likeness.faces.types import Embedding, Face, Image

SAME_PERSON_THRESHOLD = 0.6

# dlib's 5-point order, as mesh indices: image-right eye outer/inner, image-left eye outer/inner,
# then the nose base (between subnasale 2 and the philtrum top 164).
FIVE_POINT_MESH = ((263,), (362,), (33,), (133,), (2, 164))
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def model_path(name: str) -> Path:
    """Path of a model file shipped by face_recognition_models, found without importing it.

    Its ``__init__`` needs pkg_resources, which Python 3.12+ environments often lack.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise InputError("face_recognition_models is not installed; run `make venv`")
    path = Path(spec.origin).parent / "models" / name
    if not path.is_file():
        raise InputError(f"{path}: dlib model file missing; reinstall face_recognition_models")
    return path


def load_recognizer() -> dlib.face_recognition_model_v1:
    """Load dlib's ResNet descriptor model (about 22 MB, a fraction of a second)."""
    return dlib.face_recognition_model_v1(str(model_path(RECOGNITION_MODEL)))


def five_point_shape(face: Face) -> dlib.full_object_detection:
    """dlib 5-point shape built from the mesh, in the order dlib's 5-point predictor uses."""
    pts = np.asarray(face.landmarks, dtype=np.float64)[:, :2]
    parts = [dlib.point(*np.round(pts[list(idx)].mean(axis=0)).astype(int).tolist()) for idx in FIVE_POINT_MESH]
    x, y, w, h = face.box
    return dlib.full_object_detection(dlib.rectangle(int(x), int(y), int(x + w), int(y + h)), parts)


def compute_embedding(recognizer: dlib.face_recognition_model_v1, image: Image, face: Face) -> Embedding:
    """128-d descriptor of ``face``; dlib crops and aligns a 150 px chip itself."""
    chip_source = np.ascontiguousarray(image, dtype=np.uint8)
    descriptor = recognizer.compute_face_descriptor(chip_source, five_point_shape(face), 0, 0.25)
    return np.asarray(descriptor, dtype=np.float32)


def distance(a: Embedding, b: Embedding) -> float:
    """Euclidean distance between two embeddings (0 same image .. ~1.2 very different)."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def same_person(a: Embedding, b: Embedding) -> bool:
    """True when the embeddings are closer than ``SAME_PERSON_THRESHOLD`` (0.6, dlib's LFW value)."""
    return distance(a, b) < SAME_PERSON_THRESHOLD
