"""ONNX Runtime CPU optimizations of the exported fp32 graph, applied before the parity checks and INT8.

- Fusions from onnxscript's ONNX Runtime rewriter: the exporter's scaled-dot-product attention becomes
  ``MultiHeadAttention`` and erf-GELU plus its bias becomes ``BiasGelu`` (far fewer nodes, with the below).
  The query, key and value projections stay separate MatMuls, so INT8 quantizes them. onnxscript's
  all-in-one ``optimize_for_ort`` is not used because it packs them into an ``Attention`` node whose weights
  ``quantize_dynamic`` leaves fp32, and that INT8 model is slower than an unfused one.
- ``LayerNormalization`` is written out as ReduceMean, Sub, Mul, Sqrt, Div, Mul and Add: on short inputs
  ONNX Runtime's CPU LayerNorm kernels are several times slower than the written-out form, and a request runs
  one after every embedding and transformer sublayer.

The result runs on ONNX Runtime only (``MultiHeadAttention`` and ``BiasGelu`` are its contrib ops); set
``optimize: false`` in the export config for a standard-ONNX graph to run elsewhere.
Figures: docs/int8-quantization.md ("Graph rewrites before quantization").
"""

from __future__ import annotations

from pathlib import Path

import onnx_ir as ir
from onnx_ir.passes.common import CommonSubexpressionEliminationPass, ShapeInferencePass
from onnxscript.optimizer import optimize
from onnxscript.rewriter import pattern
from onnxscript.rewriter.ort_fusions.bias_gelu import fuse_bias_gelu
from onnxscript.rewriter.ort_fusions.erfgelu import fuse_erfgelu
from onnxscript.rewriter.ort_fusions.mha import fuse_mha1, fuse_mha2
from onnxscript.rewriter.ort_fusions.mha_bias import fuse_mha_bias
from onnxscript.rewriter.ort_fusions.sdpa import fuse_sdpa
from onnxscript.rewriter.ort_fusions.shape_optimization import rules as shape_rules

from nlpops.utils.logs import quiet

MIN_OPSET = 18  # the written-out LayerNorm gives ReduceMean its axes as an input, which opset 18 introduced


class WrittenOutLayerNorm(pattern.RewriteRuleClassBase):
    """``LayerNormalization`` over the last axis, as the elementwise ops it stands for."""

    def pattern(self, op, x, scale, bias):
        return op.LayerNormalization(x, scale, bias, axis=-1, _allow_other_attributes=True, _outputs=["normalized"])

    def check(self, context, x, scale, bias, normalized, **_) -> pattern.MatchResult:
        result = pattern.MatchResult()
        node = normalized.producer()
        if len(node.outputs) > 1 and any(output.uses() for output in node.outputs[1:]):
            return result.fail("the mean or inverse standard deviation output is used")
        if node.attributes.get_int("stash_type", 1) != 1:
            return result.fail("only float32 statistics (stash_type 1) are written out")
        return result

    def rewrite(self, op, x, scale, bias, normalized, **_):
        epsilon = normalized.producer().attributes.get_float("epsilon", 1e-5)
        last_axis = op.Constant(value_ints=[-1])
        centered = op.Sub(x, op.ReduceMean(x, last_axis))
        # centered * centered, not Pow: ORT's own LayerNorm fusion matches the Pow form and would undo this
        variance = op.ReduceMean(op.Mul(centered, centered), last_axis)
        deviation = op.Sqrt(op.Add(variance, op.Constant(value_float=epsilon)))
        return op.Add(op.Mul(op.Div(centered, deviation), scale), bias)


write_out_layer_norms = pattern.RewriteRuleSet([WrittenOutLayerNorm.rule()])


def optimize_for_cpu(path: Path) -> dict[str, int]:
    """Rewrite the ONNX model at ``path`` in place; return how many of each rewrite were applied."""
    model = ir.load(path)
    with quiet("onnxscript", "onnx_ir"):  # a line per constant it declines to fold
        ShapeInferencePass()(model)  # the attention fusions check tensor ranks and shapes
        optimize(model)
        shape_rules.apply_to_model(model)  # shape arithmetic folded, so the attention patterns match
        optimize(model)
        CommonSubexpressionEliminationPass()(model)  # one copy of each shape computation, as the patterns expect
        counts = {
            "gelu": fuse_erfgelu(model),
            "scaled_dot_product_attention": fuse_sdpa(model, apply_shape_inference=True),
            "multi_head_attention": fuse_mha1(model) + fuse_mha2(model),
            "attention_bias": fuse_mha_bias(model),
            "bias_gelu": fuse_bias_gelu(model),
            "layer_norm_written_out": write_out_layer_norms.apply_to_model(model),
        }
        optimize(model)  # drops what the fusions left unused
    ir.save(model, path)
    return counts
