"""The export pipeline: HF model folder → checked artifact directory (ONNX fp32 + INT8, tokenizer, manifest).

Everything is built in a scratch folder and only replaces the old artifact once every parity check has
passed, so a failed export never leaves a half-written or unfaithful artifact where serving would load it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlpops.errors import UserError
from nlpops.export import parity
from nlpops.export.manifest import build_manifest
from nlpops.export.onnx import export_fp32, load_classifier, quantize_int8
from nlpops.serving.artifact import MANIFEST, TOKENIZER, read_manifest
from nlpops.serving.core import OnnxClassifier
from nlpops.utils.files import atomic_directory

log = logging.getLogger(__name__)

MODEL_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
TOKENIZER_FILES = (TOKENIZER, "tokenizer_config.json")
Examples = Sequence[tuple[str, str]]  # (text, gold label)


def export_artifact(
    model_dir: Path,
    artifact_dir: Path,
    val: Examples,
    test: Examples,
    max_length: int,
    opset: int = 18,
    thresholds: parity.Thresholds | None = None,
    quantize: bool = True,
    per_channel: bool = True,
) -> dict[str, Any]:
    """Export (and quantize), check parity on ``val`` and ``test``, write the artifact; return its metrics.

    Raises ``ParityError`` (and leaves any previous artifact untouched) when a check fails.
    """
    thresholds = thresholds or parity.Thresholds()
    if not val or not test:
        raise UserError("export needs validation and test sentences for its parity checks; a split is empty")
    model, tokenizer = load_classifier(model_dir)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    _check_labels(labels, [label for _, label in test], model_dir)
    models = MODEL_FILES if quantize else {"fp32": MODEL_FILES["fp32"]}
    pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with atomic_directory(Path(artifact_dir)) as scratch:
        scratch.chmod(0o755)  # a temporary folder is private; a server running as another user must read it
        log.info("Exporting %s to ONNX (opset %d)", model_dir, opset)
        export_fp32(model, tokenizer, scratch / models["fp32"], opset)
        if quantize:
            log.info("Quantizing to INT8 (dynamic, %s weights)", "per-channel" if per_channel else "per-tensor")
            quantize_int8(scratch / models["fp32"], scratch / models["int8"], per_channel=per_channel)
        for name in TOKENIZER_FILES:
            if (Path(model_dir) / name).is_file():
                shutil.copy2(Path(model_dir) / name, scratch / name)

        def write_manifest(metrics: dict[str, Any]) -> None:
            manifest = build_manifest(scratch, labels, max_length, opset, models, pad_token_id, metrics, model_dir)
            (scratch / MANIFEST).write_text(manifest.to_json())

        write_manifest({})  # the serving core reads it to load the models for the checks
        metrics = check_parity(scratch, model, tokenizer, val, test, thresholds)
        write_manifest(metrics)
    log.info("Wrote the model artifact to %s", artifact_dir)
    return metrics


def check_parity(
    directory: Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    val: Examples,
    test: Examples,
    thresholds: parity.Thresholds,
) -> dict[str, Any]:
    """Run every parity check on the artifact in ``directory`` through the serving core; return the metrics."""
    threads = os.cpu_count() or 1  # batches of 32: all cores help here, unlike batch-1 serving
    cores = {
        variant: OnnxClassifier.load(directory, variant, intra_op_threads=threads)
        for variant in read_manifest(directory).models
    }
    fp32 = cores["fp32"]
    splits = {"val": [text for text, _ in val], "test": [text for text, _ in test]}
    parity.check_tokenizer(fp32, tokenizer, splits["val"])
    logits: dict[str, dict[str, np.ndarray]] = {}
    reference = parity.torch_runner(model)
    for split, texts in splits.items():
        logits[split] = {"pytorch": parity.batched_logits(fp32, reference, texts, desc=f"PyTorch {split}")}
        for variant, core in cores.items():
            logits[split][variant] = parity.batched_logits(core, core.run, texts, desc=f"ONNX {variant} {split}")
    max_diff = parity.check_fp32(
        np.concatenate([logits["val"]["pytorch"], logits["test"]["pytorch"]]),
        np.concatenate([logits["val"]["fp32"], logits["test"]["fp32"]]),
        splits["val"] + splits["test"],
        thresholds.fp32_atol,
    )
    gold = [label for _, label in test]
    accuracy = {name: parity.accuracy(out, fp32.labels, gold) for name, out in logits["test"].items()}
    metrics: dict[str, Any] = {
        "parity": {
            "sentences": {"val": len(val), "test": len(test)},
            "fp32_max_abs_logit_diff": max_diff,  # over val and test
            "fp32_atol": thresholds.fp32_atol,
        },
        "test": {"sentences": len(test), "accuracy": accuracy},
    }
    log.info(
        "Parity: fp32 max |Δlogit| %.2e on %d sentences; test accuracy PyTorch %.2f%%, ONNX fp32 %.2f%%",
        max_diff,
        len(val) + len(test),
        100 * accuracy["pytorch"],
        100 * accuracy["fp32"],
    )
    if "int8" in cores:
        agreements = {split: parity.agreement(out["fp32"], out["int8"], fp32.labels) for split, out in logits.items()}
        drop_points = 100 * (accuracy["pytorch"] - accuracy["int8"])
        metrics["parity"] |= {"int8_agreement": agreements, "min_int8_agreement": thresholds.min_int8_agreement}
        metrics["test"] |= {
            "int8_accuracy_drop_points": drop_points,
            "max_int8_accuracy_drop_points": thresholds.max_int8_accuracy_drop_points,
        }
        log.info(
            "Parity: INT8 agrees with fp32 on %.2f%% (val) and %.2f%% (test); test accuracy INT8 %.2f%% (%+.2f points)",
            100 * agreements["val"],
            100 * agreements["test"],
            100 * accuracy["int8"],
            -drop_points,
        )
        parity.check_int8(agreements, drop_points, thresholds)
    return metrics


def _check_labels(labels: list[str], gold: list[str], model_dir: Path) -> None:
    unknown = sorted(set(gold) - set(labels))
    if unknown:
        raise UserError(
            f"the data has labels {unknown} that the model at {model_dir} does not know (it has {labels}); "
            "export with the data config the model was trained on"
        )
