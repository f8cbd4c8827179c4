"""Outlier activation channels kept in fp32 around dynamic INT8 (the decomposition of LLM.int8(), Dettmers 2022).

Dynamic quantization scales each activation tensor by its whole range. In BERT-style models a few hidden
channels of some matmul inputs carry values far larger than the rest (on the default model, the FFN inputs:
28.5 in one channel against 2.0 in the median one), so one scale fits them and leaves every other channel
a handful of int8 steps. ``split_outliers`` takes those channels out of the quantized matmul:

    X @ W  =  (X * keep) @ W_rest  +  X[..., outliers] @ W[outliers, :]
              dynamic INT8, scaled     fp32, a few columns
              without the outliers

``keep`` is zero on the outlier channels and ``W_rest`` is ``W`` with their rows zeroed, so its per-channel
weight scales ignore them too. The two sides are equal in fp32; per split tensor the INT8 model pays one
Mul and one Gather, and per matmul one narrow fp32 MatMul and an Add. Which channels are outliers is
measured once, on calibration inputs (``channel_ranges``): they are the same channels for every input.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

OUTLIER_RATIO = 6.0  # a tensor has outliers when its widest channel exceeds this many times its median channel
MAX_CHANNELS = 8  # how many of such a tensor's widest channels stay fp32


def weight_matmuls(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """MatMuls of an activation (input 0) by a 2-D constant weight (input 1): the ones that can be split."""
    weights = {tensor.name for tensor in model.graph.initializer if len(tensor.dims) == 2}
    return [node for node in model.graph.node if _is_weight_matmul(node, weights)]


def _is_weight_matmul(node: onnx.NodeProto, weights: Container[str]) -> bool:
    return node.op_type == "MatMul" and node.input[1] in weights


def channel_ranges(model: onnx.ModelProto, calibration: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The largest ``|value|`` of each channel (last axis) of every weight-matmul input, over the calibration feeds."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = list(dict.fromkeys(node.input[0] for node in weight_matmuls(probe)))
    probe.graph.output.extend(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in names)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    ranges: dict[str, np.ndarray] = {}
    for feeds in calibration:
        for name, values in zip(names, session.run(names, dict(feeds)), strict=True):
            widest = np.abs(values.reshape(-1, values.shape[-1])).max(axis=0)
            ranges[name] = np.maximum(ranges[name], widest) if name in ranges else widest
    return ranges


def pick_outliers(
    ranges: Mapping[str, np.ndarray], ratio: float = OUTLIER_RATIO, max_channels: int = MAX_CHANNELS
) -> dict[str, list[int]]:
    """For each tensor with outliers (widest channel over ``ratio`` times the median one), its widest channels."""
    return {
        name: sorted(np.argsort(-widest, kind="stable")[:max_channels].tolist())
        for name, widest in ranges.items()
        if widest.size > max_channels and widest.max() > ratio * np.median(widest)
    }


def split_outliers(
    model: onnx.ModelProto, outliers: Mapping[str, Sequence[int]], skip: Container[str] = ()
) -> list[str]:
    """Rewrite, in place, every weight matmul of a tensor in ``outliers`` but those named in ``skip`` (matmuls
    that will not be quantized dynamically); return the new fp32 matmuls' names."""
    weights = {tensor.name: tensor for tensor in model.graph.initializer if len(tensor.dims) == 2}
    nodes: list[onnx.NodeProto] = []
    fp32_matmuls: list[str] = []
    prepared: set[str] = set()
    replaced: set[str] = set()
    for node in model.graph.node:
        if not (_is_weight_matmul(node, weights) and node.input[0] in outliers) or node.name in skip:
            nodes.append(node)
            continue
        x = node.input[0]
        channels = np.asarray(outliers[x], dtype=np.int64)
        replaced.add(node.input[1])
        weight = numpy_helper.to_array(weights[node.input[1]])
        if x not in prepared:  # Q, K and V share their input: mask and gather it once
            prepared.add(x)
            keep = np.ones(weight.shape[0], dtype=np.float32)
            keep[channels] = 0.0
            model.graph.initializer.extend(
                [numpy_helper.from_array(keep, f"{x}/keep"), numpy_helper.from_array(channels, f"{x}/outlier_channels")]
            )
            nodes.append(helper.make_node("Mul", [x, f"{x}/keep"], [f"{x}/rest"], name=f"{x}/mask_outliers"))
            nodes.append(
                helper.make_node("Gather", [x, f"{x}/outlier_channels"], [f"{x}/outliers"], name=f"{x}/gather", axis=-1)
            )
        rest = weight.copy()
        rest[channels, :] = 0.0
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(rest, f"{node.name}/weight_rest"),
                numpy_helper.from_array(weight[channels, :], f"{node.name}/weight_outliers"),
            ]
        )
        y = node.output[0]
        node.input[:] = [f"{x}/rest", f"{node.name}/weight_rest"]
        node.output[:] = [f"{y}/rest"]
        fp32 = helper.make_node(
            "MatMul", [f"{x}/outliers", f"{node.name}/weight_outliers"], [f"{y}/outliers"], name=f"{node.name}/outliers"
        )
        fp32.metadata_props.extend(node.metadata_props)
        nodes += [node, fp32, helper.make_node("Add", [f"{y}/rest", f"{y}/outliers"], [y], name=f"{node.name}/join")]
        fp32_matmuls.append(fp32.name)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for node in model.graph.node for name in node.input}
    unused = [tensor for name, tensor in weights.items() if name in replaced and name not in used]
    for tensor in unused:  # the original weights, now replaced by their two parts
        model.graph.initializer.remove(tensor)
    return fp32_matmuls
