"""The export pipeline: HF model folder → checked artifact directory (ONNX fp32 + INT8, tokenizer, manifest).

Everything is built in a scratch folder and only replaces the old artifact once every parity check has
passed, so a failed export never leaves a half-written or unfaithful artifact where serving would load it.
INT8 is quantized with the fastest method whose predictions pass the checks (``int8_method=auto``).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlpops.errors import UserError, positive_int
from nlpops.export import parity
from nlpops.export.manifest import build_manifest
from nlpops.export.onnx import export_fp32, load_trained, save_with_weights_beside
from nlpops.export.optimize import MIN_OPSET, optimize_for_cpu
from nlpops.export.quantize import candidates, needs_calibration, num_layers, quantize_int8, sensitive_form
from nlpops.export.rule import Examples, ExportRule
from nlpops.model_card import write_card
from nlpops.serving.artifact import MANIFEST, TOKENIZER
from nlpops.serving.core import OnnxModel
from nlpops.utils.files import atomic_directory

log = logging.getLogger(__name__)

MODEL_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
TOKENIZER_FILES = (TOKENIZER, "tokenizer_config.json")
ManifestWriter = Callable[[dict[str, str], dict[str, Any]], None]


@dataclass(frozen=True)
class Reference:
    """What INT8 is compared against: PyTorch and ONNX fp32 logits on the val and test sentences."""

    rule: ExportRule
    fp32: OnnxModel  # the checked fp32 model, through the serving core
    texts: dict[str, list[str]]  # split -> sentences
    gold: list[Any]  # test answers
    logits: dict[str, dict[str, list[np.ndarray]]]  # split -> engine (pytorch, fp32) -> each text's logits
    labels: list[str]
    metrics: dict[str, Any]


def export_artifact(
    rule: ExportRule,
    model_dir: Path,
    artifact_dir: Path,
    val: Examples,
    test: Examples,
    max_length: int,
    opset: int = 18,
    thresholds: parity.Thresholds | None = None,
    quantize: bool = True,
    int8_method: str = "auto",
    optimize: bool = True,
    calibration: Sequence[str] = (),
    sensitive_matmuls: str = "auto",
) -> dict[str, Any]:
    """Export ``rule``'s task (and quantize), check parity on ``val`` and ``test``, write the artifact; return metrics.

    ``optimize`` rewrites the fp32 graph for ONNX Runtime on CPU (see ``optimize.py``) before any check runs.
    ``calibration``: sentences (training ones, say) on which ``outlier-split`` and ``mixed-N`` INT8 find their
    outlier channels; without them they use the ``val`` sentences. ``sensitive_matmuls``: how ``mixed-N`` runs
    the matmuls of its first N layers (``auto``, ``split``, ``blockwise`` or ``fp32``; see ``quantize.sensitive_form``).
    Raises ``ParityError`` (and leaves any previous artifact untouched) when a check fails.
    """
    thresholds = thresholds or rule.thresholds()
    candidates(int8_method, 1)  # an unknown method fails now, not after minutes of export
    if optimize and opset < MIN_OPSET:
        raise UserError(
            f"opset {opset} is too old for optimize=true, whose graph needs opset {MIN_OPSET} or later; ask for "
            f"opset={MIN_OPSET} or set optimize=false for a standard ONNX graph"
        )
    sensitive = sensitive_form(sensitive_matmuls)
    if not val or not test:
        raise UserError("export needs validation and test sentences for its parity checks; a split is empty")
    model, tokenizer = load_trained(model_dir, rule.auto_class)
    check_max_length(max_length, model, model_dir)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    rule.check_gold([gold for _, gold in test], labels, model_dir)
    pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with atomic_directory(Path(artifact_dir)) as scratch:
        provenance: dict[str, Any] = {}

        def write_manifest(models: dict[str, str], metrics: dict[str, Any]) -> None:
            manifest = build_manifest(
                rule.task, scratch, labels, max_length, opset, models, pad_token_id, metrics, model_dir, provenance
            )
            (scratch / MANIFEST).write_text(manifest.to_json())

        log.info("Exporting %s to ONNX (opset %d)", model_dir, opset)
        export_fp32(rule.wrapper(model), tokenizer, rule.example_texts, scratch / MODEL_FILES["fp32"], opset)
        if optimize:
            provenance["graph_rewrites"] = optimize_for_cpu(scratch / MODEL_FILES["fp32"])
            log.info("Optimized the graph for ONNX Runtime on CPU: %s", provenance["graph_rewrites"])
        move_weights_beside(scratch / MODEL_FILES["fp32"])
        for name in TOKENIZER_FILES:
            if (Path(model_dir) / name).is_file():
                shutil.copy2(Path(model_dir) / name, scratch / name)
        models = {"fp32": MODEL_FILES["fp32"]}
        write_manifest(models, {})  # the serving core reads it to load the model for the checks
        reference = check_fp32(rule, scratch, model, tokenizer, val, test, thresholds)
        metrics = reference.metrics
        if quantize:
            models = MODEL_FILES
            methods = candidates(int8_method, num_layers(scratch / MODEL_FILES["fp32"]))
            feeds: list[dict[str, np.ndarray]] = []
            if any(needs_calibration(method) for method in methods):
                feeds = calibration_inputs(reference.fp32, calibration or reference.texts["val"])
            log.info(
                "Mixed INT8 methods run their sensitive matmuls %s (sensitive_matmuls=%s)", sensitive, sensitive_matmuls
            )
            int8 = quantize_checked(scratch, reference, methods, thresholds, write_manifest, feeds, sensitive)
            provenance["int8"] = int8.pop("quantization")
            metrics = _merge(metrics, int8)
        write_manifest(models, metrics)
        write_card(scratch, Path(artifact_dir).name)  # after the checksums: a card of the manifest, never served
    log.info("Wrote the model artifact to %s", artifact_dir)
    return metrics


def move_weights_beside(path: Path) -> None:
    """Split the one-file ONNX model at ``path`` into the artifact's graph and weights files."""
    save_with_weights_beside(onnx.load(str(path)), path)


def check_max_length(max_length: int, model: PreTrainedModel, model_dir: Path) -> None:
    """Serving truncates texts to ``max_length`` tokens: the model must have that many positions."""
    positive_int("max_length", max_length)
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions is not None and max_length > positions:  # long texts would fail in ONNX Runtime, at serving time
        raise UserError(
            f"max_length {max_length} is more than the {positions} token positions of {model_dir} "
            f"(max_position_embeddings); set max_length={positions} or less"
        )


def check_fp32(
    rule: ExportRule,
    directory: Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    val: Examples,
    test: Examples,
    thresholds: parity.Thresholds,
) -> Reference:
    """Tokenizer parity and fp32 logits within ``fp32_atol`` of PyTorch on val and test, through the serving core."""
    fp32 = OnnxModel.load(directory, "fp32", intra_op_threads=_threads())
    texts = {"val": [text for text, _ in val], "test": [text for text, _ in test]}
    parity.check_tokenizer(fp32, tokenizer, texts["val"])
    torch_run = parity.torch_runner(model)
    logits = {
        split: {
            "pytorch": parity.batched_logits(fp32, torch_run, sentences, desc=f"PyTorch {split}"),
            "fp32": parity.batched_logits(fp32, fp32.run, sentences, desc=f"ONNX fp32 {split}"),
        }
        for split, sentences in texts.items()
    }
    max_diff = parity.check_fp32(
        logits["val"]["pytorch"] + logits["test"]["pytorch"],
        logits["val"]["fp32"] + logits["test"]["fp32"],
        texts["val"] + texts["test"],
        thresholds.fp32_atol,
    )
    gold = [answer for _, answer in test]
    score = {name: rule.score(fp32, texts["test"], out, gold) for name, out in logits["test"].items()}
    log.info(
        "Parity: fp32 max |Δlogit| %.2e on %d sentences; test %s PyTorch %.2f%%, ONNX fp32 %.2f%%",
        max_diff,
        len(val) + len(test),
        rule.metric,
        100 * score["pytorch"],
        100 * score["fp32"],
    )
    metrics = {
        "parity": {
            "sentences": {"val": len(val), "test": len(test)},
            "fp32_max_abs_logit_diff": max_diff,  # over val and test
            "fp32_atol": thresholds.fp32_atol,
        },
        "test": {"sentences": len(test), rule.metric: score},
    }
    return Reference(rule, fp32, texts, gold, logits, fp32.labels, metrics)


def calibration_inputs(encoder: OnnxModel, texts: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """Model inputs for INT8 calibration: one sentence each, tokenized as a request is."""
    return [encoder.encode([text]) for text in texts]


def quantize_checked(
    directory: Path,
    reference: Reference,
    methods: Sequence[str],
    thresholds: parity.Thresholds,
    write_manifest: ManifestWriter,
    calibration: Sequence[dict[str, np.ndarray]] = (),
    sensitive: str = "blockwise",
) -> dict[str, Any]:
    """Quantize with each method in turn until one passes the INT8 checks; raise the last failure if none does."""
    attempts: dict[str, Any] = {}
    for method in methods:
        log.info("Quantizing to INT8 (%s)", method)
        quantization = quantize_int8(
            directory / MODEL_FILES["fp32"], directory / MODEL_FILES["int8"], method, calibration, sensitive
        )
        move_weights_beside(directory / MODEL_FILES["int8"])
        write_manifest(MODEL_FILES, {})
        attempt = measure_int8(directory, reference)
        attempts[method] = attempt
        metric = reference.rule.metric
        try:
            parity.check_int8(attempt["agreement"], attempt[f"{metric}_drop_points"], thresholds, metric)
        except parity.ParityError as err:
            if method == methods[-1]:
                raise
            log.warning("INT8 (%s) failed its check: %s; trying %s", method, err, methods[methods.index(method) + 1])
            continue
        return {
            "quantization": quantization,
            "parity": {
                "int8_agreement": attempt["agreement"],
                "min_int8_agreement": thresholds.min_int8_agreement,
                "int8_attempts": attempts,
            },
            "test": {
                metric: {"int8": attempt[metric]},
                f"int8_{metric}_drop_points": attempt[f"{metric}_drop_points"],
                f"max_int8_{metric}_drop_points": thresholds.max_int8_drop_points,
            },
        }
    raise AssertionError("unreachable: the last method either passed or raised")


def measure_int8(directory: Path, reference: Reference) -> dict[str, Any]:
    """INT8 agreement with fp32 on each split and the test metric, through the serving core.

    Each sentence is its own batch, as in a ``{"text": ...}`` request: dynamic quantization scales activations
    by the whole input tensor, so a padded batch of 32 gives other predictions than serving does (the served
    model once agreed 99.3% batched but 98.8% one sentence at a time).
    """
    rule, metric = reference.rule, reference.rule.metric
    int8 = OnnxModel.load(directory, "int8", intra_op_threads=_threads())
    logits = {
        split: parity.batched_logits(int8, int8.run, texts, batch_size=1, desc=f"ONNX INT8 {split}")
        for split, texts in reference.texts.items()
    }
    agreement = {
        split: rule.agreement(reference.logits[split]["fp32"], out, reference.labels) for split, out in logits.items()
    }
    score = rule.score(int8, reference.texts["test"], logits["test"], reference.gold)
    drop_points = 100 * (reference.metrics["test"][metric]["pytorch"] - score)
    log.info(
        "Parity: INT8 agrees with fp32 on %.2f%% (val) and %.2f%% (test); test %s INT8 %.2f%% (%+.2f points)",
        100 * agreement["val"],
        100 * agreement["test"],
        metric,
        100 * score,
        -drop_points,
    )
    return {"agreement": agreement, metric: score, f"{metric}_drop_points": drop_points}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and key in merged else value
    return merged


def _threads() -> int:
    return os.cpu_count() or 1  # one call at a time here, so each gets every core (serving splits them)
