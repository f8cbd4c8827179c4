"""The CPU graph rewrites: what the tiny export becomes, that ONNX Runtime keeps it, that it computes the same."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from nlpops.export.optimize import optimize_for_cpu
from nlpops.serving.artifact import read_manifest
from nlpops.serving.core import session_options

HIDDEN = 32


def op_types(model: onnx.ModelProto) -> list[str]:
    return [node.op_type for node in model.graph.node]


def test_the_exported_model_has_fused_attention_and_gelu_and_no_layer_norm(tiny_artifact: Path) -> None:
    ops = op_types(onnx.load(str(tiny_artifact / "model.onnx")))
    assert ops.count("MultiHeadAttention") == ops.count("BiasGelu") == 2  # one each per layer
    assert "LayerNormalization" not in ops
    assert ops.count("ReduceMean") == 2 * 5  # mean and variance of 5 layer norms: embeddings + 2 per layer
    assert "Softmax" not in ops and "Erf" not in ops
    rewrites = read_manifest(tiny_artifact).source["graph_rewrites"]  # the manifest records what was done
    assert rewrites["multi_head_attention"] == rewrites["bias_gelu"] == 2 and rewrites["layer_norm_written_out"] == 5


def test_onnx_runtime_does_not_fuse_the_layer_norms_back(tiny_artifact: Path, tmp_path: Path) -> None:
    options = session_options(1)
    options.optimized_model_filepath = str(tmp_path / "as-run.onnx")
    ort.InferenceSession(str(tiny_artifact / "model.onnx"), options, providers=["CPUExecutionProvider"])
    ops = op_types(onnx.load(str(tmp_path / "as-run.onnx"), load_external_data=False))  # the graph is enough
    assert "ReduceMean" in ops
    assert not {"LayerNormalization", "SkipLayerNormalization"} & set(ops)


def layer_norm_model(path: Path, epsilon: float) -> None:
    """``LayerNormalization(x + skip)`` with random scale and bias: the shape of every BERT layer norm."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(size=HIDDEN).astype(np.float32), name) for name in ("scale", "bias")]
    nodes = [
        helper.make_node("Add", ["x", "skip"], ["summed"]),
        helper.make_node("LayerNormalization", ["summed", "scale", "bias"], ["y"], axis=-1, epsilon=epsilon),
    ]
    shape = ["batch", "sequence", HIDDEN]
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name in ("x", "skip")]
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    graph = helper.make_graph(nodes, "layer_norm", inputs, [output], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9), str(path))


def run(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(str(path), session_options(1), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def test_the_written_out_layer_norm_computes_what_onnx_runtime_does(tmp_path: Path) -> None:
    original, rewritten = tmp_path / "layer_norm.onnx", tmp_path / "written_out.onnx"
    layer_norm_model(original, epsilon=1e-12)
    layer_norm_model(rewritten, epsilon=1e-12)
    assert optimize_for_cpu(rewritten)["layer_norm_written_out"] == 1
    assert "LayerNormalization" not in op_types(onnx.load(str(rewritten)))
    rng = np.random.default_rng(1)
    feeds = {name: rng.normal(scale=4.0, size=(3, 7, HIDDEN)).astype(np.float32) for name in ("x", "skip")}
    np.testing.assert_allclose(run(rewritten, feeds), run(original, feeds), atol=1e-5)
