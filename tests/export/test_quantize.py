"""INT8 methods: which matmuls each one keeps blockwise, on the tiny 2-layer model's real ONNX export."""

from pathlib import Path

import onnx
import pytest

from nlpops.errors import UserError
from nlpops.export.quantize import candidates, num_layers, quantize_int8, weighted_matmuls

# The tiny BERT: 2 layers of 6 weighted matmuls (query, key, value, attention output, FFN up, FFN down).
PER_LAYER = 6


def op_counts(path: Path) -> dict[str, int]:
    nodes = [node.op_type for node in onnx.load(str(path)).graph.node]
    return {op: nodes.count(op) for op in ("MatMulNBits", "MatMulInteger", "DynamicQuantizeMatMul")}


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


def test_auto_tries_the_methods_fastest_first() -> None:
    assert candidates("auto", 3) == ["dynamic", "outlier-split", "ffn-out", "mixed-1", "mixed-2", "blockwise"]
    assert candidates("mixed-2", 3) == ["mixed-2"]
    with pytest.raises(UserError, match="int8_method must be auto, dynamic, outlier-split, ffn-out, blockwise or mix"):
        candidates("fastest", 3)
