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

from nlpops.errors import UserError
from nlpops.export import parity
from nlpops.export.manifest import build_manifest
from nlpops.export.onnx import export_fp32, load_classifier, quantize_int8
from nlpops.serving.artifact import MANIFEST, TOKENIZER
from nlpops.serving.core import OnnxClassifier
from nlpops.utils.files import atomic_directory

log = logging.getLogger(__name__)

MODEL_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
TOKENIZER_FILES = (TOKENIZER, "tokenizer_config.json")


def export_artifact(
    model_dir: Path,
    artifact_dir: Path,
    val: Sequence[tuple[str, str]],
    test: Sequence[tuple[str, str]],
    max_length: int,
    opset: int = 18,
    thresholds: parity.Thresholds | None = None,
    per_channel: bool = True,
) -> dict[str, Any]:
    """Export, quantize, check parity on ``val`` and ``test`` ((text, label) pairs), write the artifact.

    Returns the metrics stored in the manifest. Raises ``ParityError`` (and writes nothing) on a failed check.
    """
    thresholds = thresholds or parity.Thresholds()
    if not val or not test:
        raise UserError("export needs validation and test sentences for its parity checks; both splits are empty")
    model, tokenizer = load_classifier(model_dir)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    _check_labels(labels, [label for _, label in test], model_dir)
    with atomic_directory(Path(artifact_dir)) as scratch:
        log.info("Exporting %s to ONNX (opset %d)", model_dir, opset)
        export_fp32(model, tokenizer, scratch / MODEL_FILES["fp32"], opset)
        log.info("Quantizing to INT8")
        quantize_int8(scratch / MODEL_FILES["fp32"], scratch / MODEL_FILES["int8"], per_channel=per_channel)
        for name in TOKENIZER_FILES:
            if (Path(model_dir) / name).is_file():
                shutil.copy2(Path(model_dir) / name, scratch / name)
        pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        draft = build_manifest(scratch, labels, max_length, opset, MODEL_FILES, pad_token_id, {}, model_dir)
        (scratch / MANIFEST).write_text(draft.to_json())
        metrics = check_parity(scratch, model, tokenizer, val, test, thresholds)
        manifest = build_manifest(scratch, labels, max_length, opset, MODEL_FILES, pad_token_id, metrics, model_dir)
        (scratch / MANIFEST).write_text(manifest.to_json())
    log.info("Wrote the model artifact to %s", artifact_dir)
    return metrics


def check_parity(
    directory: Path,
    model: Any,
    tokenizer: Any,
    val: Sequence[tuple[str, str]],
    test: Sequence[tuple[str, str]],
    thresholds: parity.Thresholds,
) -> dict[str, Any]:
    """Run every parity check on the artifact in ``directory`` through the serving core; return the metrics."""
    threads = os.cpu_count() or 1  # batches of 32: all cores help here, unlike batch-1 serving
    fp32 = OnnxClassifier.load(directory, "fp32", intra_op_threads=threads)
    int8 = OnnxClassifier.load(directory, "int8", intra_op_threads=threads)
    splits = {"val": [text for text, _ in val], "test": [text for text, _ in test]}
    parity.check_tokenizer(fp32, tokenizer, splits["val"])
    logits: dict[str, dict[str, Any]] = {}
    for split, texts in splits.items():
        logits[split] = {
            "pytorch": parity.batched_logits(fp32, parity.torch_runner(model), texts, desc=f"PyTorch {split}"),
            "fp32": parity.batched_logits(fp32, fp32.run, texts, desc=f"ONNX fp32 {split}"),
            "int8": parity.batched_logits(int8, int8.run, texts, desc=f"ONNX INT8 {split}"),
        }
    max_diff = parity.check_fp32(logits["val"]["pytorch"], logits["val"]["fp32"], splits["val"], thresholds.fp32_atol)
    agreements = {split: parity.agreement(out["fp32"], out["int8"], fp32.labels) for split, out in logits.items()}
    gold = [label for _, label in test]
    accuracy = {name: parity.accuracy(out, fp32.labels, gold) for name, out in logits["test"].items()}
    drop_points = 100 * (accuracy["pytorch"] - accuracy["int8"])
    metrics = {
        "parity": {
            "val_sentences": len(val),
            "fp32_max_abs_logit_diff": max_diff,
            "fp32_atol": thresholds.fp32_atol,
            "int8_agreement": agreements,
            "min_int8_agreement": thresholds.min_int8_agreement,
        },
        "test": {
            "sentences": len(test),
            "accuracy": accuracy,
            "int8_accuracy_drop_points": drop_points,
            "max_int8_accuracy_drop_points": thresholds.max_int8_accuracy_drop_points,
        },
    }
    log.info(
        "Parity: fp32 max |Δlogit| %.2e; INT8 agreement val %.2f%% test %.2f%%; test accuracy PyTorch %.2f%% "
        "fp32 %.2f%% INT8 %.2f%% (%+.2f points)",
        max_diff,
        100 * agreements["val"],
        100 * agreements["test"],
        100 * accuracy["pytorch"],
        100 * accuracy["fp32"],
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
