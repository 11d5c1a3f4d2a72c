"""The ``onnx`` engine: a user-supplied one-shot swapper (inswapper-like) run with onnxruntime.

The model takes the target face aligned to a square crop (1x3xSxS float, RGB in [0, 1]) and
the source identity's embedding (1xD), and returns the swapped crop (1x3xSxS, [0, 1]). likeness
ships no such model and downloads none: the user points ``model_path`` at one they may use. The
identity vector is the mean of the faceset's 128-d dlib embeddings, so the model must take
D = 128 (a model trained for another embedding is refused with a clear message).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from likeness.errors import InputError
from likeness.faces.types import Face, Image
from likeness.swap.engine import Patch, register_engine
from likeness.swap.paste import paste_square

# ArcFace 5-point template (eye centres, nose tip, mouth corners) as fractions of the crop side.
_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                      [41.5493, 92.3655], [70.7299, 92.2041]]) / 112.0


def _anchors(landmarks: np.ndarray) -> np.ndarray:
    p = np.asarray(landmarks, np.float64)[:, :2]
    return np.stack([p[[33, 133]].mean(0), p[[362, 263]].mean(0), p[1], p[61], p[291]])


class OnnxEngine:
    """Runs a one-shot ONNX swapper on CPU; ``provider`` says plainly which device is used."""

    name = "onnx"

    def __init__(self, *, model_path: str | Path | None = None, feather: float = 0.08) -> None:
        if model_path is None:
            raise InputError("the onnx engine needs model_path= pointing at a one-shot swapper .onnx file")
        path = Path(model_path)
        if not path.is_file():
            raise InputError(f"{path}: ONNX model not found")
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise InputError(f"{path}: not a loadable ONNX model ({str(exc).splitlines()[0]})") from None
        self.provider = self.session.get_providers()[0]
        inputs = self.session.get_inputs()
        if len(inputs) != 2:
            raise InputError(f"{path}: expected 2 inputs (target crop, source embedding), found {len(inputs)}")
        image_in = next((i for i in inputs if len(i.shape) == 4), None)
        vector_in = next((i for i in inputs if len(i.shape) == 2), None)
        if image_in is None or vector_in is None:
            raise InputError(f"{path}: inputs must be a 1x3xSxS crop and a 1xD embedding")
        self._image_name, self._vector_name = image_in.name, vector_in.name
        self.size = int(image_in.shape[2]) if isinstance(image_in.shape[2], int) else 128
        self.dim = int(vector_in.shape[1]) if isinstance(vector_in.shape[1], int) else 128
        self.feather = feather
        self._identity: np.ndarray | None = None

    def describe(self) -> str:
        """One line for logs and render records: model size, embedding size and the device."""
        return f"onnx one-shot swapper {self.size}px, {self.dim}-d identity, on {self.provider}"

    def prepare(self, faceset: Any) -> None:
        vectors = [item.embedding for item in getattr(faceset, "items", ()) if item.embedding is not None]
        if not vectors:
            raise InputError("the faceset has no embeddings for the onnx engine")
        mean = np.mean(np.stack(vectors).astype(np.float32), axis=0)
        if mean.shape[0] != self.dim:
            raise InputError(f"the ONNX model wants a {self.dim}-d identity vector; the faceset "
                             f"holds {mean.shape[0]}-d dlib embeddings")
        self._identity = (mean / max(float(np.linalg.norm(mean)), 1e-6))[None, :].astype(np.float32)

    def swap(self, frame: Image, face: Face) -> Patch:
        if self._identity is None:
            raise InputError("the onnx engine was not prepared with a faceset")
        s = self.size
        matrix, _ = cv2.estimateAffinePartial2D(_anchors(face.landmarks), _TEMPLATE * s)
        if matrix is None:
            raise InputError(f"face at {face.box}: cannot align it for the onnx engine")
        crop = cv2.warpAffine(frame, matrix, (s, s), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        blob = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        result = self.session.run(None, {self._image_name: blob, self._vector_name: self._identity})[0]
        swapped = np.clip(result[0].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)

        # The model's square crop: an ellipse inside it, feathered, is the face it made.
        square = np.zeros((s, s), np.float32)
        cv2.ellipse(square, (s // 2, int(s * 0.55)), (int(s * 0.38), int(s * 0.45)), 0, 0, 360, 1.0, -1)
        square = cv2.GaussianBlur(square, (0, 0), max(self.feather * s, 1.0))
        return paste_square(frame, swapped, square, cv2.invertAffineTransform(matrix), face)

register_engine("onnx", OnnxEngine)
