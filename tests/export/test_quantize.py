"""INT8 methods: which matmuls each one keeps blockwise, fp32 or dynamic, on the tiny 2-layer model's ONNX export."""

from pathlib import Path

import numpy as np
import onnx
import pytest

from nlpops.errors import UserError
from nlpops.export.pipeline import calibration_inputs
from nlpops.export.quantize import candidates, num_layers, quantize_int8, sensitive_form, weighted_matmuls
from nlpops.serving.core import OnnxModel
from nlpops.utils.machine import has_int8_dot_product

# The tiny BERT: 2 layers of 6 weighted matmuls (query, key, value, attention output, FFN up, FFN down).
PER_LAYER = 6


def op_counts(path: Path) -> dict[str, int]:
    nodes = [node.op_type for node in onnx.load(str(path)).graph.node]
    return {op: nodes.count(op) for op in ("MatMul", "MatMulNBits", "MatMulInteger", "DynamicQuantizeMatMul")}


def calibration(artifact: Path) -> list[dict[str, np.ndarray]]:
    fp32 = OnnxModel.load(artifact, "fp32")
    return calibration_inputs(
        fp32, ["a witty film", "dull, and far too long", "the best film of the year, or the worst"]
    )


def test_the_fp32_model_has_its_matmuls_by_layer(tiny_artifact: Path) -> None:
    matmuls = weighted_matmuls(onnx.load(str(tiny_artifact / "model.onnx")))
    assert num_layers(tiny_artifact / "model.onnx") == 2
    assert sorted(m.layer for m in matmuls) == [0] * PER_LAYER + [1] * PER_LAYER


@pytest.mark.parametrize(
    ("method", "blockwise"), [("dynamic", 0), ("mixed-1", PER_LAYER), ("blockwise", 2 * PER_LAYER)]
)
def test_each_method_keeps_its_matmuls_blockwise_and_the_rest_dynamic(
    tiny_artifact: Path, tmp_path: Path, method: str, blockwise: int
) -> None:
    described = quantize_int8(tiny_artifact / "model.onnx", tmp_path / "int8.onnx", method, calibration(tiny_artifact))
    counts = op_counts(tmp_path / "int8.onnx")
    assert counts["MatMulNBits"] == described["blockwise_matmuls"] == blockwise
    assert described["dynamic_matmuls"] == 2 * PER_LAYER - blockwise and described["fp32_matmuls"] == 0
    # quantize_dynamic also converts the pooler and classifier (two Gemm nodes); pure blockwise leaves them fp32
    head = 0 if method == "blockwise" else 2
    assert counts["MatMulInteger"] + counts["DynamicQuantizeMatMul"] == described["dynamic_matmuls"] + head
    assert ("outlier_split" in described) == (method == "mixed-1")  # mixed-N is outlier-split at heart
    assert counts["MatMul"] == described.get("outlier_split", {}).get("fp32_matmuls", 0)  # only the narrow ones


def test_mixed_n_can_keep_its_sensitive_matmuls_fp32_and_unsplit(tiny_artifact: Path, tmp_path: Path) -> None:
    fp32_model = tiny_artifact / "model.onnx"
    described = quantize_int8(fp32_model, tmp_path / "int8.onnx", "mixed-1", calibration(tiny_artifact), "fp32")
    counts = op_counts(tmp_path / "int8.onnx")
    assert described["sensitive_matmuls"] == "fp32"
    assert counts["MatMulNBits"] == described["blockwise_matmuls"] == 0
    assert described["fp32_matmuls"] == PER_LAYER and described["dynamic_matmuls"] == PER_LAYER
    assert counts["MatMul"] == PER_LAYER + described["outlier_split"]["fp32_matmuls"]
    first_layer = {m.name for m in weighted_matmuls(onnx.load(str(fp32_model))) if m.layer == 0}
    kept = {node.name: node for node in onnx.load(str(tmp_path / "int8.onnx")).graph.node if node.name in first_layer}
    assert {node.op_type for node in kept.values()} == {"MatMul"} and len(kept) == PER_LAYER
    assert not any(node.input[1].endswith("/weight_rest") for node in kept.values())  # fp32 whole, not split
    # the whole-model blockwise method stays blockwise whatever mixed-N does
    described = quantize_int8(fp32_model, tmp_path / "int8.onnx", "blockwise", sensitive="fp32")
    assert described["blockwise_matmuls"] == 2 * PER_LAYER and "sensitive_matmuls" not in described


def test_mixed_n_can_split_every_input_of_its_sensitive_matmuls(tiny_artifact: Path, tmp_path: Path) -> None:
    fp32_model = tiny_artifact / "model.onnx"
    feeds = calibration(tiny_artifact)
    quantize_int8(fp32_model, tmp_path / "plain.onnx", "outlier-split", feeds)
    described = quantize_int8(fp32_model, tmp_path / "int8.onnx", "mixed-1", feeds, "split")
    assert described["sensitive_matmuls"] == "split"
    assert described["dynamic_matmuls"] == 2 * PER_LAYER and described["fp32_matmuls"] == 0
    assert op_counts(tmp_path / "int8.onnx")["MatMulNBits"] == described["blockwise_matmuls"] == 0
    first_layer = [m for m in weighted_matmuls(onnx.load(str(fp32_model))) if m.layer == 0]
    first_inputs = {m.input for m in first_layer}
    nodes = onnx.load(str(tmp_path / "int8.onnx")).graph.node
    narrow = {node.name for node in nodes if node.op_type == "MatMul"}
    assert {f"{m.name}/outliers" for m in first_layer} <= narrow  # each has its narrow fp32 part
    assert not any(node.op_type == "MatMul" and node.input[0] in first_inputs for node in nodes)  # none whole fp32
    split = split_inputs(tmp_path / "int8.onnx")
    assert set(split) == first_inputs | set(split_inputs(tmp_path / "plain.onnx")) and len(split) == len(set(split))
    assert described["outlier_split"]["tensors"] == len(split)


def split_inputs(model_path: Path) -> list[str]:
    """The tensors outlier-split masked in ``model_path``."""
    return [node.input[0] for node in onnx.load(str(model_path)).graph.node if node.name.endswith("/mask_outliers")]


def test_the_sensitive_form_follows_the_cpus_int8_dot_products() -> None:
    assert sensitive_form("auto") == ("blockwise" if has_int8_dot_product() else "split")
    assert [sensitive_form(form) for form in ("split", "blockwise", "fp32")] == ["split", "blockwise", "fp32"]
    with pytest.raises(UserError, match="sensitive_matmuls must be auto, split, blockwise or fp32, got 'int4'"):
        sensitive_form("int4")


def test_auto_tries_the_methods_fastest_first() -> None:
    assert candidates("auto", 3) == ["dynamic", "outlier-split", "mixed-1", "mixed-2", "blockwise"]
    assert candidates("mixed-2", 3) == ["mixed-2"]
    for unknown in ("fastest", "ffn-out", "mixed-0"):
        with pytest.raises(UserError, match=f"int8_method must be auto, dynamic, .*got '{unknown}'"):
            candidates(unknown, 3)
