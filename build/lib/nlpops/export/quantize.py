"""INT8 quantization of the exported fp32 model: ``dynamic``, ``blockwise``, or ``mixed-N`` of the two.

``dynamic``: ``quantize_dynamic``, per-channel int8 weights and one uint8 scale per activation tensor, computed
at run time. The fastest (2.4 ms per review at batch 1 on 2 Sapphire Rapids cores), but one scale per tensor is
coarse: on the MiniLM sentiment models here it flipped ~2% of fp32's predictions.
``blockwise``: ``MatMulNBits``, 8-bit weights in blocks of 128 along the input dimension and int8 compute
(``accuracy_level=4``) that quantizes activations per block too: 3.7 ms, 0.2-0.6% flipped.
``mixed-N``: the first N transformer layers blockwise, the rest dynamic. Errors made early are amplified by
every later layer, so the first layers are where precision pays; the export tries N = 1, 2, … until the
parity checks pass (see ``candidates``).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

from nlpops.errors import UserError
from nlpops.export.onnx import quiet

BLOCK_SIZE = 128
# the dynamo exporter records each node's module path, e.g. "model.bert.encoder.layer.3.output.dense"
LAYER = re.compile(r"\.layers?\.(\d+)\b")


def candidates(choice: str, num_layers: int) -> list[str]:
    """The methods to try, fastest first: ``auto`` walks from dynamic to blockwise one layer at a time."""
    if choice == "auto":
        return ["dynamic", *(f"mixed-{n}" for n in range(1, num_layers)), "blockwise"]
    if choice in ("dynamic", "blockwise") or re.fullmatch(r"mixed-\d+", choice):
        return [choice]
    raise UserError(f"int8_method must be auto, dynamic, blockwise or mixed-N, got '{choice}'")


def layer_of_weighted_matmuls(model: onnx.ModelProto) -> dict[str, int | None]:
    """Each MatMul with a constant weight → the index of the transformer layer it belongs to (None: outside)."""
    constants = {tensor.name for tensor in model.graph.initializer}
    layers: dict[str, int | None] = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and any(name in constants for name in node.input):
            namespace = next((p.value for p in node.metadata_props if p.key == "namespace"), "")
            found = LAYER.findall(namespace)
            layers[node.name] = int(found[-1]) if found else None
    return layers


def num_layers(fp32_path: Path) -> int:
    layers = layer_of_weighted_matmuls(onnx.load(str(fp32_path), load_external_data=False))
    return 1 + max((index for index in layers.values() if index is not None), default=-1)


def quantize_int8(fp32_path: Path, int8_path: Path, method: str) -> dict[str, Any]:
    """Write the INT8 model; return a description of what was done, for the manifest.

    The model is quantized without the dynamo exporter's shape annotations (``graph.value_info``):
    ``quantize_dynamic`` fails with a shape inference error on them.
    """
    model = onnx.load(str(fp32_path))
    del model.graph.value_info[:]
    layers = layer_of_weighted_matmuls(model)
    if method == "dynamic":
        blockwise: list[str] = []
    elif method == "blockwise":
        blockwise = list(layers)
    else:
        first = int(method.removeprefix("mixed-"))
        blockwise = [name for name, index in layers.items() if index is not None and index < first]
    dynamic_excluded = blockwise if method != "blockwise" else None
    with tempfile.TemporaryDirectory(dir=Path(int8_path).parent) as scratch:
        step = Path(scratch) / "plain.onnx"
        onnx.save(model, str(step))
        if dynamic_excluded is not None:
            quantized = Path(scratch) / "dynamic.onnx"
            with quiet(""):  # quantize_dynamic nags "please run pre-processing" on the root logger
                quantize_dynamic(
                    str(step),
                    str(quantized),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],  # embeddings (Gather) stay fp32: int8 ones flipped 0.5% more
                    nodes_to_exclude=blockwise,
                )
            step = quantized
        if blockwise:
            quantizer = MatMulNBitsQuantizer(
                onnx.load(str(step)),
                bits=8,
                block_size=BLOCK_SIZE,
                accuracy_level=4,
                nodes_to_include=blockwise,
                op_types_to_quantize=("MatMul",),
            )
            with quiet("", "onnxruntime.quantization.matmul_nbits_quantizer"):
                quantizer.process()
            quantizer.model.save_model_to_file(str(step), use_external_data_format=False)
        step.replace(int8_path)
    return {
        "method": method,
        "blockwise_matmuls": len(blockwise),
        "dynamic_matmuls": 0 if dynamic_excluded is None else len(layers) - len(blockwise),
        "blockwise": {"bits": 8, "block_size": BLOCK_SIZE, "accuracy_level": 4},
    }
