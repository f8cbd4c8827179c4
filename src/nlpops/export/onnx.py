"""PyTorch → ONNX fp32 with dynamic batch and sequence axes (INT8 is in ``quantize.py``).

Uses the dynamo exporter: it matches PyTorch to ~1e-8 where the legacy TorchScript path was off by up to
0.018 on the real encoder. The model is written as one file, which the graph rewrites and quantization read and
write; ``save_with_weights_beside`` splits a finished model into the artifact's graph and weights files.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx
import torch
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from nlpops.errors import UserError
from nlpops.serving.artifact import weights_file
from nlpops.utils.logs import quiet
from nlpops.utils.model_dir import check_model_dir

INPUT_NAMES = ["input_ids", "attention_mask"]
OUTPUT_NAMES = ["logits"]
STACK_TRACE = "pkg.torch.onnx.stack_trace"  # node metadata the dynamo exporter writes


class LogitsOnly(torch.nn.Module):
    """A classifier (of texts or of tokens) as ``(input_ids, attention_mask) -> logits``: what serving feeds."""

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def load_trained(model_dir: Path, auto_class: Any) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The fine-tuned model folder ``train.py`` writes, loaded with ``auto_class``, in eval mode, with its tokenizer."""
    check_model_dir(model_dir)
    try:
        model = auto_class.from_pretrained(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot load the model at {model_dir}: {str(err).splitlines()[0]}") from err
    return model.eval(), tokenizer


def export_fp32(
    module: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, examples: Sequence[str], path: Path, opset: int
) -> None:
    """Write ``module`` to ``path`` as a single-file ONNX model with dynamic batch and sequence axes.

    ``examples`` are two texts of different lengths: the exporter keeps an axis dynamic only for sizes other
    than 0 and 1.
    """
    example = tokenizer(list(examples), padding=True, return_tensors="pt", return_token_type_ids=False)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic = {name: {0: batch, 1: sequence} for name in INPUT_NAMES}
    with warnings.catch_warnings(), torch.no_grad(), quiet("onnx_ir", "onnxscript", "torch.onnx"):
        warnings.simplefilter("ignore")  # exporter chatter (torchvision ops, axis renames) that users cannot act on
        program = torch.onnx.export(
            module.eval(),
            (example["input_ids"], example["attention_mask"]),
            str(path),
            dynamo=True,
            external_data=False,
            opset_version=opset,
            input_names=INPUT_NAMES,
            output_names=OUTPUT_NAMES,
            dynamic_shapes=dynamic,
            verbose=False,
        )
    written = program.model.opset_imports[""]  # what it wrote, without reading the file back
    if written != opset:  # the exporter falls back to its own opset when it cannot convert to the one asked for
        raise UserError(
            f"the ONNX exporter wrote opset {written}, not the opset {opset} asked for (it cannot convert the graph "
            f"to that version); ask for another, e.g. opset={written}"
        )


def save_with_weights_beside(model: onnx.ModelProto, path: Path) -> None:
    """Write ``model``'s graph to ``path`` and its weights to ``weights_file(path)`` beside it, as serving loads it.

    The graph goes without the exporter's per-node Python stack traces: they quote the export machine's absolute
    paths and line numbers, so the same model exported from another checkout would differ byte for byte (and in
    the version ``/ready`` reports). A weights file left by an earlier write is replaced, and the new one gets
    the graph file's permissions (``onnx`` creates it readable by its owner only, which a server running as
    another user could not read).
    """
    for node in model.graph.node:
        kept = [prop for prop in node.metadata_props if prop.key != STACK_TRACE]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    weights = path.with_name(weights_file(path.name))
    weights.unlink(missing_ok=True)  # onnx refuses to overwrite it
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=weights.name)
    weights.chmod(path.stat().st_mode & 0o777)
