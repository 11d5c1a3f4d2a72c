"""The onnx engine slot, driven by a tiny swapper model the test builds itself (no download)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from likeness.errors import InputError
from likeness.faces import FaceAnalyzer
from likeness.swap import Faceset, FacesetItem, composite, make_engine


def tiny_swapper(path, size=64, dim=128):
    """output = 1 - crop + |mean(embedding)|: a negative, plain to see, that reads both inputs."""
    crop = helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, size, size])
    vec = helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, dim])
    out = helper.make_tensor_value_info("swapped", TensorProto.FLOAT, [1, 3, size, size])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [1, 1, 1, 1])
    nodes = [
        helper.make_node("ReduceMean", ["source", "axes"], ["m"], keepdims=1),
        helper.make_node("Reshape", ["m", "shape"], ["m4"]),
        helper.make_node("Abs", ["m4"], ["a4"]),
        helper.make_node("Sub", ["one", "target"], ["negative"]),
        helper.make_node("Add", ["negative", "a4"], ["swapped"]),
    ]
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    graph = helper.make_graph(nodes, "tiny", [crop, vec], [out], initializer=[axes, shape, one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def astronaut_face(astronaut):
    with FaceAnalyzer() as analyzer:
        face = analyzer.detect(astronaut)[0]
        return face, analyzer.embed(astronaut, face)


def test_onnx_engine_runs_a_user_model_on_cpu(tmp_path, astronaut, astronaut_face):
    face, embedding = astronaut_face
    engine = make_engine("onnx", model_path=tiny_swapper(tmp_path / "tiny.onnx"))
    assert engine.provider == "CPUExecutionProvider"
    assert "CPUExecutionProvider" in engine.describe()
    item = FacesetItem(astronaut, face.landmarks, face.pose, embedding, None)
    engine.prepare(Faceset("astronaut", (item,)))
    patch = engine.swap(astronaut, face)
    out = composite(astronaut, patch, colour="none", relight=False)
    x, y, w, h = face.box
    # The tiny model turns the face it is given into its negative.
    centre = np.s_[y + h // 3:y + 2 * h // 3, x + w // 3:x + 2 * w // 3]
    assert np.abs(out[centre].astype(int) - astronaut[centre]).mean() > 60
    far = np.ones(astronaut.shape[:2], bool)
    px, py, pw, ph = patch.box
    far[py:py + ph, px:px + pw] = False
    assert np.array_equal(out[far], astronaut[far]), "pixels outside the patch changed"


def test_onnx_engine_refuses_missing_and_wrong_models(tmp_path, astronaut, astronaut_face):
    face, embedding = astronaut_face
    with pytest.raises(InputError, match="model_path"):
        make_engine("onnx")
    with pytest.raises(InputError, match="not found"):
        make_engine("onnx", model_path=tmp_path / "absent.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(InputError, match="junk.onnx"):
        make_engine("onnx", model_path=tmp_path / "junk.onnx")
    engine = make_engine("onnx", model_path=tiny_swapper(tmp_path / "wide.onnx", dim=512))
    item = FacesetItem(astronaut, face.landmarks, face.pose, embedding, None)
    with pytest.raises(InputError, match="512-d"):
        engine.prepare(Faceset("astronaut", (item,)))
