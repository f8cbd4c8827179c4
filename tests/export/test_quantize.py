"""INT8 methods: which matmuls each one keeps blockwise or fp32, on the tiny 2-layer model's real ONNX export."""

from pathlib import Path

import onnx
import pytest

from nlpops.errors import UserError
from nlpops.export.quantize import candidates, num_layers, quantize_int8, sensitive_form, weighted_matmuls
from nlpops.utils.machine import has_int8_dot_product

# The tiny BERT: 2 layers of 6 weighted matmuls (query, key, value, attention output, FFN up, FFN down).
PER_LAYER = 6


def op_counts(path: Path) -> dict[str, int]:
    nodes = [node.op_type for node in onnx.load(str(path)).graph.node]
    return {op: nodes.count(op) for op in ("MatMul", "MatMulNBits", "MatMulInteger", "DynamicQuantizeMatMul")}


def test_the_fp32_model_has_one_down_projection_per_layer(tiny_artifact: Path) -> None:
    matmuls = weighted_matmuls(onnx.load(str(tiny_artifact / "model.onnx")))
    assert num_layers(tiny_artifact / "model.onnx") == 2
    assert sorted(m.layer for m in matmuls) == [0] * PER_LAYER + [1] * PER_LAYER
    assert sorted(m.layer for m in matmuls if m.narrows) == [0, 1]  # FFN down: 64 inputs → 32 outputs


@pytest.mark.parametrize(
    ("method", "blockwise"),
    [("dynamic", 0), ("ffn-out", 2), ("mixed-1", PER_LAYER + 1), ("blockwise", 2 * PER_LAYER)],
)
def test_each_method_keeps_its_matmuls_blockwise_and_the_rest_dynamic(
    tiny_artifact: Path, tmp_path: Path, method: str, blockwise: int
) -> None:
    described = quantize_int8(tiny_artifact / "model.onnx", tmp_path / "int8.onnx", method)
    counts = op_counts(tmp_path / "int8.onnx")
    assert counts["MatMulNBits"] == described["blockwise_matmuls"] == blockwise
    assert described["dynamic_matmuls"] == 2 * PER_LAYER - blockwise
    # quantize_dynamic also converts the pooler and classifier (two Gemm nodes); pure blockwise leaves them fp32
    head = 0 if method == "blockwise" else 2
    assert counts["MatMulInteger"] + counts["DynamicQuantizeMatMul"] == described["dynamic_matmuls"] + head
    assert described["fp32_matmuls"] == 0


@pytest.mark.parametrize(("method", "sensitive"), [("ffn-out", 2), ("mixed-1", PER_LAYER + 1)])
def test_mixes_can_keep_their_sensitive_matmuls_fp32(
    tiny_artifact: Path, tmp_path: Path, method: str, sensitive: int
) -> None:
    described = quantize_int8(tiny_artifact / "model.onnx", tmp_path / "int8.onnx", method, sensitive="fp32")
    counts = op_counts(tmp_path / "int8.onnx")
    assert described["sensitive_matmuls"] == "fp32"
    assert counts["MatMulNBits"] == described["blockwise_matmuls"] == 0
    assert described["fp32_matmuls"] == sensitive and described["dynamic_matmuls"] == 2 * PER_LAYER - sensitive
    fp32_weights = {m.name for m in weighted_matmuls(onnx.load(str(tmp_path / "int8.onnx")))}
    assert len(fp32_weights) == counts["MatMul"] == sensitive  # untouched: the fp32 weight, a plain MatMul
    # the whole-model blockwise method stays blockwise whatever the mixes do
    described = quantize_int8(tiny_artifact / "model.onnx", tmp_path / "int8.onnx", "blockwise", sensitive="fp32")
    assert described["blockwise_matmuls"] == 2 * PER_LAYER and "sensitive_matmuls" not in described


def test_the_sensitive_form_follows_the_cpus_int8_dot_products() -> None:
    assert sensitive_form("auto") == ("blockwise" if has_int8_dot_product() else "fp32")
    assert sensitive_form("fp32") == "fp32" and sensitive_form("blockwise") == "blockwise"
    with pytest.raises(UserError, match="sensitive_matmuls must be auto, blockwise or fp32, got 'int4'"):
        sensitive_form("int4")


def test_auto_tries_the_methods_fastest_first() -> None:
    assert candidates("auto", 3) == ["dynamic", "outlier-split", "ffn-out", "mixed-1", "mixed-2", "blockwise"]
    assert candidates("mixed-2", 3) == ["mixed-2"]
    with pytest.raises(UserError, match="int8_method must be auto, dynamic, outlier-split, ffn-out, blockwise or mix"):
        candidates("fastest", 3)
