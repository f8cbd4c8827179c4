"""Parity checks: the exported models must behave like the PyTorch model on real sentences, or export fails.

Every check goes through the serving core (``OnnxClassifier``): the tokenization, ONNX Runtime call and
post-processing that serving will run are what is compared against PyTorch, not a second copy of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlpops.errors import UserError
from nlpops.serving.core import OnnxClassifier, postprocess

Runner = Callable[[dict[str, np.ndarray]], np.ndarray]


class ParityError(UserError):
    """An exported model does not match PyTorch closely enough; the artifact is not written."""


@dataclass(frozen=True)
class Thresholds:
    fp32_atol: float = 1e-4  # largest allowed |logit difference|, ONNX fp32 vs PyTorch
    min_int8_agreement: float = 0.99  # least share of INT8 predictions equal to fp32's
    max_int8_accuracy_drop_points: float = 0.5  # most accuracy points INT8 may lose against PyTorch


def torch_runner(model: PreTrainedModel) -> Runner:
    """PyTorch on the very arrays the ONNX model gets (same tokens, same padding)."""

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            tensors = {name: torch.from_numpy(array) for name, array in inputs.items()}
            return model(**tensors).logits.float().numpy()

    return run


def batched_logits(
    core: OnnxClassifier, run: Runner, texts: Sequence[str], batch_size: int = 32, desc: str = ""
) -> np.ndarray:
    """Logits of ``texts`` in input order, computed in length-sorted batches tokenized by the serving core."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: np.ndarray | None = None
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", leave=False, disable=not desc):
        chunk = order[start : start + batch_size]
        logits = run(core.encode([texts[i] for i in chunk]))
        if out is None:
            out = np.empty((len(texts), logits.shape[-1]), dtype=np.float32)
        out[chunk] = logits
    return out if out is not None else np.empty((0, len(core.labels)), dtype=np.float32)


def check_tokenizer(core: OnnxClassifier, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> None:
    """Serving's ``tokenizers`` setup must produce the token ids training's tokenizer produced."""
    max_length = core.manifest.max_length
    expected = tokenizer(list(texts), truncation=True, max_length=max_length, return_token_type_ids=False)
    for text, ids in zip(texts, expected["input_ids"], strict=True):
        actual = core.tokenizer.encode(text).ids
        if actual != ids:
            raise ParityError(f"serving tokenizes {text!r} as {actual[:12]}…, training as {ids[:12]}…")


def check_fp32(reference: np.ndarray, exported: np.ndarray, texts: Sequence[str], atol: float) -> float:
    """Return the largest absolute logit difference; raise if it is over ``atol``."""
    diff = np.abs(reference.astype(np.float64) - exported.astype(np.float64)).max(axis=-1)
    worst = int(diff.argmax()) if len(diff) else 0
    max_diff = float(diff[worst]) if len(diff) else 0.0
    if not np.isfinite(max_diff) or max_diff > atol:
        raise ParityError(
            f"ONNX fp32 logits differ from PyTorch by up to {max_diff:.3g} (allowed {atol:g}) on {len(texts)} "
            f"sentences; worst: {texts[worst]!r}. The export is not faithful: check the exporter and opset"
        )
    return max_diff


def agreement(reference: np.ndarray, other: np.ndarray, labels: Sequence[str]) -> float:
    """Share of rows whose predicted label is the same, using the serving post-processing."""
    same = [a.label == b.label for a, b in zip(postprocess(reference, labels), postprocess(other, labels), strict=True)]
    return float(np.mean(same)) if same else 1.0


def accuracy(logits: np.ndarray, labels: Sequence[str], gold: Sequence[str]) -> float:
    predicted = [p.label for p in postprocess(logits, labels)]
    return float(np.mean([p == g for p, g in zip(predicted, gold, strict=True)])) if gold else 0.0


def check_int8(agreements: dict[str, float], accuracy_drop_points: float, thresholds: Thresholds) -> None:
    """Raise if INT8 disagrees with fp32 too often on any split or loses too much test accuracy."""
    for split, share in agreements.items():
        if share < thresholds.min_int8_agreement:
            raise ParityError(
                f"INT8 agrees with fp32 on {share:.2%} of {split} predictions "
                f"(need {thresholds.min_int8_agreement:.0%}); quantization hurts this model: export fp32 only "
                "(quantize=false, then serve with NLPOPS_VARIANT=fp32) or relax parity.min_int8_agreement"
            )
    if accuracy_drop_points > thresholds.max_int8_accuracy_drop_points:
        raise ParityError(
            f"INT8 loses {accuracy_drop_points:.2f} accuracy points on the test split (allowed "
            f"{thresholds.max_int8_accuracy_drop_points}); export fp32 only (quantize=false) or relax "
            "parity.max_int8_accuracy_drop_points"
        )
