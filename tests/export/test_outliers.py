"""Outlier channels kept in fp32: which channels are picked, that the split is exact, that INT8 gains from it."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from nlpops.errors import UserError
from nlpops.export.outliers import MAX_CHANNELS, OUTLIER_RATIO, channel_ranges, pick_outliers, split_outliers
from nlpops.export.quantize import quantize_int8
from nlpops.serving.core import session_options

WIDTH = 64
OUTLIERS = [5, 40]  # the channels the inputs below blow up, as BERT's FFN inputs have a few


def two_matmul_model() -> onnx.ModelProto:
    """``x`` times two weights (like Q and K sharing their input), and ``z`` times a third."""
    rng = np.random.default_rng(0)
    weights = {name: rng.normal(size=(WIDTH, n)).astype(np.float32) for name, n in (("wa", 48), ("wb", 16), ("wc", 8))}
    nodes = [
        helper.make_node("MatMul", ["x", "wa"], ["ya"], name="matmul_a"),
        helper.make_node("MatMul", ["x", "wb"], ["yb"], name="matmul_b"),
        helper.make_node("MatMul", ["z", "wc"], ["yc"], name="matmul_c"),
    ]
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "sequence", WIDTH]) for name in "xz"]
    outputs = [helper.make_tensor_value_info(f"y{s}", TensorProto.FLOAT, ["batch", "sequence", None]) for s in "abc"]
    initializers = [numpy_helper.from_array(value, name) for name, value in weights.items()]
    graph = helper.make_graph(nodes, "matmuls", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def feeds(seed: int, count: int) -> list[dict[str, np.ndarray]]:
    """Inputs of 1-3 sentences of 4-20 tokens; ``x`` has outlier channels 30x wider than the rest."""
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(count):
        shape = (int(rng.integers(1, 4)), int(rng.integers(4, 21)), WIDTH)
        x, z = rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)
        x[..., OUTLIERS] *= 30.0
        found.append({"x": x, "z": z})
    return found


def run(model: onnx.ModelProto | Path, inputs: list[dict[str, np.ndarray]]) -> list[list[np.ndarray]]:
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = ort.InferenceSession(source, session_options(1), providers=["CPUExecutionProvider"])
    return [session.run(None, feed) for feed in inputs]


def test_the_widest_channels_of_tensors_with_outliers_are_picked() -> None:
    ranges = channel_ranges(two_matmul_model(), feeds(seed=0, count=8))
    assert set(ranges) == {"x", "z"} and ranges["x"].shape == (WIDTH,)  # one range per channel of each input
    assert pick_outliers(ranges, max_channels=2) == {"x": OUTLIERS}  # z has none: its channels are alike
    assert len(pick_outliers(ranges)["x"]) == 8  # the default keeps a few more than the two
    assert pick_outliers(ranges, ratio=100.0) == {}  # 30x is not 100x the median


def test_the_split_computes_what_the_matmuls_did() -> None:
    model = two_matmul_model()
    expected = run(model, feeds(seed=1, count=4))
    fp32_matmuls = split_outliers(model, {"x": OUTLIERS})
    assert fp32_matmuls == ["matmul_a/outliers", "matmul_b/outliers"]
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Mul") == ops.count("Gather") == 1  # x is masked and gathered once for both matmuls
    assert ops.count("MatMul") == 5 and ops.count("Add") == 2  # matmul_c is untouched
    assert {"wa", "wb"}.isdisjoint(t.name for t in model.graph.initializer)  # replaced by their two parts
    onnx.checker.check_model(model)
    for before, after in zip(expected, run(model, feeds(seed=1, count=4)), strict=True):
        for want, got in zip(before, after, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_matmuls_that_stay_out_of_int8_are_not_split() -> None:
    model = two_matmul_model()
    assert split_outliers(model, {"x": OUTLIERS}, skip={"matmul_a"}) == ["matmul_b/outliers"]
    matmul_a = next(node for node in model.graph.node if node.name == "matmul_a")
    assert list(matmul_a.input) == ["x", "wa"]  # its own input and weight, whole


def test_outlier_split_int8_is_far_closer_to_fp32_than_dynamic_int8(tmp_path: Path) -> None:
    onnx.save(two_matmul_model(), str(tmp_path / "fp32.onnx"))
    described = quantize_int8(tmp_path / "fp32.onnx", tmp_path / "split.onnx", "outlier-split", feeds(0, 16))
    assert described["outlier_split"] == {
        "tensors": 1,  # x; z has no outliers
        "channels": MAX_CHANNELS,
        "fp32_matmuls": 2,
        "ratio": OUTLIER_RATIO,
        "max_channels": MAX_CHANNELS,
        "calibration_inputs": 16,
    }
    quantize_int8(tmp_path / "fp32.onnx", tmp_path / "dynamic.onnx", "dynamic")
    split_ops = {node.op_type for node in onnx.load(str(tmp_path / "split.onnx")).graph.node}
    assert {"Gather", "DynamicQuantizeLinear"} <= split_ops  # the rest is still INT8
    test = feeds(seed=2, count=8)
    reference = run(tmp_path / "fp32.onnx", test)

    def error(path: Path) -> float:  # mean |Δ| of ya over the test inputs
        outputs = zip(run(path, test), reference, strict=True)
        return float(np.mean([np.abs(got[0] - want[0]).mean() for got, want in outputs]))

    assert error(tmp_path / "split.onnx") < error(tmp_path / "dynamic.onnx") / 5


@pytest.mark.parametrize("method", ["outlier-split", "mixed-1"])
def test_splitting_methods_refuse_to_run_without_calibration_inputs(tmp_path: Path, method: str) -> None:
    onnx.save(two_matmul_model(), str(tmp_path / "fp32.onnx"))
    with pytest.raises(UserError, match=f"int8_method {method} needs calibration inputs"):
        quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", method)


@pytest.mark.parametrize(("layer_of_b", "split"), [(0, 0), (1, 1)])
def test_mixed_n_splits_only_the_inputs_of_matmuls_it_quantizes(tmp_path: Path, layer_of_b: int, split: int) -> None:
    model = two_matmul_model()
    layers = {"matmul_a": 0, "matmul_b": layer_of_b, "matmul_c": 1}
    for node in model.graph.node:  # as the dynamo exporter records a BERT layer's module path
        node.metadata_props.add(key="namespace", value=f"model.bert.encoder.layer.{layers[node.name]}.dense")
    onnx.save(model, str(tmp_path / "fp32.onnx"))
    described = quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", "mixed-1", feeds(0, 16), "fp32")
    assert described["fp32_matmuls"] == 2 - split  # layer 0 stays fp32, whole
    assert described["outlier_split"]["tensors"] == split  # x only counts where a dynamic matmul reads it
    assert described["outlier_split"]["fp32_matmuls"] == split
