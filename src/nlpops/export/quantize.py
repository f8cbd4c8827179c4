"""INT8 quantization of the exported fp32 model: ``dynamic``, ``outlier-split``, ``mixed-N`` or ``blockwise``.

``dynamic``: ``quantize_dynamic``, per-channel int8 weights and one uint8 scale per activation tensor, computed
at run time. The fastest, but one scale per tensor is coarse: on the MiniLM sentiment model it flips more of
fp32's predictions on single-text requests than the parity checks allow.
``outlier-split``: ``dynamic`` after taking the few outlier channels of each activation tensor that has them
out of its quantized matmuls, into narrow fp32 ones (see ``outliers.py``). Measured on calibration inputs.
A little slower than ``dynamic``, and on the default model closer to fp32 than every other INT8 form tried.
``mixed-N``: ``outlier-split``, but every matmul of the first N transformer layers (the sensitive matmuls) is
made more precise: errors made early are amplified by every later layer.
``blockwise``: ``MatMulNBits``, 8-bit weights in blocks of 128 along the input dimension and int8 compute
(``accuracy_level=4``) that quantizes activations per row and block too, for every matmul: close to fp32.
The sensitive matmuls of ``mixed-N`` run in one of three forms (``sensitive_form``): ``split`` (dynamic INT8
with the widest channels of each of their inputs split out, outliers or not), ``blockwise`` or ``fp32``.
Blockwise beats fp32 only on CPUs with int8 dot-product instructions; on AVX2-only CPUs it is slower than fp32,
and fp32 slower than ``split``.
The export tries the methods fastest first until the parity checks pass (see ``candidates``).
Figures: docs/int8-quantization.md.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

from nlpops.errors import UserError
from nlpops.export.outliers import (
    MAX_CHANNELS,
    OUTLIER_RATIO,
    channel_ranges,
    pick_outliers,
    split_outliers,
    weight_matmuls,
)
from nlpops.utils.logs import quiet
from nlpops.utils.machine import has_int8_dot_product

BLOCK_SIZE = 128
OUTLIER_SPLIT = "outlier-split"
MIXED = re.compile(r"mixed-([1-9]\d*)")
SENSITIVE_FORMS = ("split", "blockwise", "fp32")
# the dynamo exporter records each node's module path, e.g. "model.bert.encoder.layer.3.output.dense"
LAYER = re.compile(r"\.layers?\.(\d+)\b")


def candidates(choice: str, num_layers: int) -> list[str]:
    """The methods to try, fastest first: ``auto`` walks from dynamic through outlier-split and mixed-1, mixed-2,
    ... to blockwise."""
    if choice == "auto":
        return ["dynamic", OUTLIER_SPLIT, *(f"mixed-{n}" for n in range(1, num_layers)), "blockwise"]
    if choice in ("dynamic", OUTLIER_SPLIT, "blockwise") or MIXED.fullmatch(choice):
        return [choice]
    raise UserError(f"int8_method must be auto, dynamic, outlier-split, mixed-N (N ≥ 1) or blockwise, got '{choice}'")


def needs_calibration(method: str) -> bool:
    """Whether ``method`` splits outlier channels, which it finds on calibration inputs."""
    return method == OUTLIER_SPLIT or bool(MIXED.fullmatch(method))


def sensitive_form(choice: str) -> str:
    """How ``mixed-N`` runs its sensitive matmuls: ``split``, ``blockwise`` or ``fp32``; ``auto`` picks
    blockwise where this CPU has int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI, Arm dotprod), else split."""
    if choice == "auto":
        return "blockwise" if has_int8_dot_product() else "split"
    if choice in SENSITIVE_FORMS:
        return choice
    raise UserError(f"sensitive_matmuls must be auto, split, blockwise or fp32, got {choice!r}")


@dataclass(frozen=True)
class WeightedMatMul:
    """A MatMul with a constant weight: what quantization acts on."""

    name: str
    input: str  # the activation it multiplies
    layer: int | None  # index of the transformer layer it belongs to (None: outside the layers)


def weighted_matmuls(model: onnx.ModelProto) -> list[WeightedMatMul]:
    found = []
    for node in weight_matmuls(model):
        namespace = next((p.value for p in node.metadata_props if p.key == "namespace"), "")
        layer = LAYER.findall(namespace)
        found.append(WeightedMatMul(node.name, node.input[0], int(layer[-1]) if layer else None))
    return found


def num_layers(fp32_path: Path) -> int:
    matmuls = weighted_matmuls(onnx.load(str(fp32_path), load_external_data=False))
    return 1 + max((m.layer for m in matmuls if m.layer is not None), default=-1)


def sensitive_matmuls(matmuls: list[WeightedMatMul], method: str) -> list[str]:
    """The names of the matmuls ``method`` keeps out of dynamic INT8 (all of them for ``blockwise``)."""
    if method == "blockwise":
        return [m.name for m in matmuls]
    mixed = MIXED.fullmatch(method)
    first = int(mixed.group(1)) if mixed else 0
    return [m.name for m in matmuls if m.layer is not None and m.layer < first]


def quantize_int8(
    fp32_path: Path,
    int8_path: Path,
    method: str,
    calibration: Sequence[Mapping[str, np.ndarray]] = (),
    sensitive: str = "blockwise",
) -> dict[str, Any]:
    """Write the INT8 model; return a description of what was done, for the manifest.

    ``calibration`` (model inputs, e.g. one tokenized training sentence each) is needed by the methods that split
    outliers (``needs_calibration``); ``sensitive`` (``split``, ``blockwise`` or ``fp32``, see ``sensitive_form``)
    by ``mixed-N`` only. The model is quantized without the dynamo exporter's shape annotations
    (``graph.value_info``): ``quantize_dynamic`` fails with a shape inference error on them.
    """
    model = onnx.load(str(fp32_path))
    del model.graph.value_info[:]
    matmuls = weighted_matmuls(model)
    precise = sensitive_matmuls(matmuls, method)
    mixed = MIXED.fullmatch(method) is not None
    form = sensitive if mixed else "blockwise"  # how ``precise`` runs: the blockwise method keeps all precise
    blockwise = precise if form == "blockwise" else []
    kept_fp32 = precise if form == "fp32" else []
    excluded = set(blockwise + kept_fp32)  # from dynamic INT8 (and so from splitting)
    described: dict[str, Any] = {"method": method} | ({"sensitive_matmuls": form} if mixed and precise else {})
    split_fp32: list[str] = []  # the narrow fp32 matmuls of outlier-split
    if needs_calibration(method):
        if not calibration:
            raise UserError(f"int8_method {method} needs calibration inputs to find the outlier channels")
        ranges = channel_ranges(model, calibration)
        dynamic_inputs = {m.input for m in matmuls if m.name not in excluded}
        found = {x: c for x, c in pick_outliers(ranges).items() if x in dynamic_inputs}
        if form == "split":  # every input of a sensitive matmul, outliers or not: any ratio will do
            sensitive_inputs = {m.input for m in matmuls if m.name in precise}
            found |= pick_outliers({x: ranges[x] for x in sensitive_inputs}, ratio=0.0)
        split_fp32 = split_outliers(model, found, excluded)
        described["outlier_split"] = {
            "tensors": len(found),
            "channels": sum(len(channels) for channels in found.values()),
            "fp32_matmuls": len(split_fp32),
            "ratio": OUTLIER_RATIO,
            "max_channels": MAX_CHANNELS,
            "calibration_inputs": len(calibration),
        }
    with tempfile.TemporaryDirectory(dir=Path(int8_path).parent) as scratch:
        step = Path(scratch) / "plain.onnx"
        onnx.save(model, str(step))
        if method != "blockwise":  # every other method quantizes the rest dynamically
            quantized = Path(scratch) / "dynamic.onnx"
            with quiet(""):  # quantize_dynamic nags "please run pre-processing" on the root logger
                quantize_dynamic(
                    str(step),
                    str(quantized),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],  # embeddings (Gather) stay fp32: int8 ones flipped 0.5% more
                    nodes_to_exclude=[*sorted(excluded), *split_fp32],
                    # shape inference cannot type the outputs of ORT's contrib ops (MultiHeadAttention, ...)
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
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
    described |= {
        "blockwise_matmuls": len(blockwise),
        "fp32_matmuls": len(kept_fp32),
        "dynamic_matmuls": len(matmuls) - len(excluded),
    }
    if blockwise:
        described["blockwise"] = {"bits": 8, "block_size": BLOCK_SIZE, "accuracy_level": 4}
    return described
