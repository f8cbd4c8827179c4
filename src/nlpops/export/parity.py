"""Parity checks: the exported models must behave like the PyTorch model on real sentences, or export fails.

Every check goes through the serving core (``OnnxModel``) and the task's serving code: the tokenization, ONNX
Runtime call and post-processing that serving will run are what is compared against PyTorch, not a second copy
of them. What agreement and the test metric mean is the task's (its export rule); the checks here are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlpops.errors import UserError
from nlpops.serving.core import OnnxModel

Runner = Callable[[dict[str, np.ndarray]], np.ndarray]


class ParityError(UserError):
    """An exported model does not match PyTorch closely enough; the artifact is not written."""


@dataclass(frozen=True)
class Thresholds:
    """What every task checks; a task's subclass adds how many points of its test metric INT8 may lose."""

    fp32_atol: float = 1e-4  # largest allowed |logit difference|, ONNX fp32 vs PyTorch
    min_int8_agreement: float = 0.99  # least share of INT8 predictions equal to fp32's

    @property
    def max_int8_drop_points(self) -> float:
        raise NotImplementedError("a task's thresholds name the points of its metric INT8 may lose")


def torch_runner(model: PreTrainedModel) -> Runner:
    """PyTorch on the very arrays the ONNX model gets (same tokens, same padding)."""

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            tensors = {name: torch.from_numpy(array) for name, array in inputs.items()}
            return model(**tensors).logits.float().numpy()

    return run


def batched_logits(
    core: OnnxModel, run: Runner, texts: Sequence[str], batch_size: int = 32, desc: str = ""
) -> list[np.ndarray]:
    """Logits of each text in input order, computed in length-sorted batches tokenized by the serving core.

    A text's logits are one row (a label per text) or, for a model that labels tokens, a row per token of the
    text, its padding cut off.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(texts)
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", leave=False, disable=not desc):
        chunk = order[start : start + batch_size]
        inputs = core.encode([texts[i] for i in chunk])
        logits = run(inputs)
        lengths = inputs["attention_mask"].sum(axis=-1)
        for row, (index, length) in enumerate(zip(chunk, lengths, strict=True)):
            out[index] = logits[row, :length] if logits.ndim == 3 else logits[row]
    return out


def check_tokenizer(core: OnnxModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> None:
    """Serving's ``tokenizers`` setup must produce the token ids training's tokenizer produced."""
    max_length = core.manifest.max_length
    expected = tokenizer(list(texts), truncation=True, max_length=max_length, return_token_type_ids=False)
    for text, ids in zip(texts, expected["input_ids"], strict=True):
        actual = core.tokenizer.encode(text).ids
        if actual != ids:
            raise ParityError(f"serving tokenizes {text!r} as {actual[:12]}…, training as {ids[:12]}…")


def check_fp32(
    reference: Sequence[np.ndarray], exported: Sequence[np.ndarray], texts: Sequence[str], atol: float
) -> float:
    """Return the largest absolute logit difference over every text; raise if it is over ``atol``."""
    diff = [
        float(np.abs(r.astype(np.float64) - e.astype(np.float64)).max())
        for r, e in zip(reference, exported, strict=True)
    ]
    worst = int(np.argmax(diff)) if diff else 0
    max_diff = diff[worst] if diff else 0.0
    if not np.isfinite(max_diff) or max_diff > atol:
        raise ParityError(
            f"ONNX fp32 logits differ from PyTorch by up to {max_diff:.3g} (allowed {atol:g}) on {len(texts)} "
            f"sentences; worst: {texts[worst]!r}. The export is not faithful: check the exporter and opset"
        )
    return max_diff


def check_int8(agreements: dict[str, float], drop_points: float, thresholds: Thresholds, metric: str) -> None:
    """Raise if INT8 disagrees with fp32 too often on any split or loses too many points of the test ``metric``."""
    for split, share in agreements.items():
        if share < thresholds.min_int8_agreement:
            raise ParityError(
                f"INT8 agrees with fp32 on {share:.2%} of {split} predictions "
                f"(need {thresholds.min_int8_agreement:.0%}); quantization hurts this model: export fp32 only "
                "(quantize=false, then serve with NLPOPS_VARIANT=fp32) or relax parity.min_int8_agreement"
            )
    if drop_points > thresholds.max_int8_drop_points:
        raise ParityError(
            f"INT8 loses {drop_points:.2f} {metric} points on the test split (allowed "
            f"{thresholds.max_int8_drop_points}); export fp32 only (quantize=false) or relax "
            f"parity.max_int8_{metric}_drop_points"
        )
