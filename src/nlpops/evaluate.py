"""The evaluation stage: test metrics of a checkpoint, or of a model artifact as serving runs it.

``ckpt_path`` evaluates a Lightning checkpoint with the training code; ``artifact_dir`` evaluates what
ships: the artifact's ONNX model (``variant``) through the serving core, with no torch in the loop.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import torch
from hydra.utils import instantiate
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from omegaconf import DictConfig

from nlpops.data.classification import check_labels_known
from nlpops.errors import UserError
from nlpops.serving.core import OnnxClassifier
from nlpops.utils.files import atomic_file
from nlpops.utils.instantiate import build, build_all, check_config
from nlpops.utils.runs import require_file, write_metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test ``cfg.artifact_dir`` or ``cfg.ckpt_path`` and write the metrics to ``cfg.metrics_file`` (JSON)."""
    if cfg.get("artifact_dir"):
        metrics = evaluate_artifact(cfg)
    elif cfg.get("ckpt_path"):
        metrics = evaluate_checkpoint(cfg)
    else:
        raise UserError("nothing to evaluate: pass ckpt_path=PATH (a checkpoint) or artifact_dir=PATH (an export)")
    write_metrics(cfg.get("metrics_file"), metrics)
    return metrics


def evaluate_artifact(cfg: DictConfig) -> dict[str, float]:
    """Accuracy and macro-F1 of the artifact's model on the test split; ``predictions_file`` gets each pair."""
    check_config(cfg, "data")
    core = OnnxClassifier.load(Path(cfg.artifact_dir), cfg.get("variant", "int8"))
    test = instantiate(cfg.data).load_splits()["test"]
    gold = [example.label for example in test]
    check_labels_known(gold, core.labels, cfg.artifact_dir)
    predicted = [p.label for p in core.predict_batched([example.text for example in test])]
    if cfg.get("predictions_file"):
        _write_predictions(Path(cfg.predictions_file), gold, predicted)
    return classification_metrics(gold, predicted, core.labels, prefix="test/")


def classification_metrics(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str], prefix: str = ""
) -> dict[str, float]:
    """Accuracy, macro-F1, and precision, recall and F1 of each label."""
    metrics = {f"{prefix}acc": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)}
    f1s = []
    for label in labels:
        hits = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        precision = hits / max(1, sum(p == label for p in predicted))
        recall = hits / max(1, sum(g == label for g in gold))
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        metrics |= {f"{prefix}{label}/precision": precision, f"{prefix}{label}/recall": recall}
        metrics[f"{prefix}{label}/f1"] = f1
        f1s.append(f1)
    metrics[f"{prefix}f1"] = sum(f1s) / len(f1s)
    return metrics


def _write_predictions(path: Path, gold: Sequence[str], predicted: Sequence[str]) -> None:
    """One ``actual,predicted`` row per test example: the data of the confusion matrix ``dvc plots`` draws."""
    with atomic_file(path) as scratch, scratch.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["actual", "predicted"])
        writer.writerows(zip(gold, predicted, strict=True))


def evaluate_checkpoint(cfg: DictConfig) -> dict[str, float]:
    """Test ``cfg.ckpt_path`` with the Lightning model, trainer and data of the config."""
    check_config(cfg, "data", "model", "trainer", "logger")
    ckpt_path = require_file("ckpt_path", cfg.ckpt_path)
    checkpoint_labels = _checkpoint_labels(ckpt_path)

    datamodule: LightningDataModule = build(cfg, "data")
    datamodule.prepare_data()
    datamodule.setup("test")
    if checkpoint_labels is not None and checkpoint_labels != datamodule.id2label:
        raise UserError(
            f"{ckpt_path} was trained on labels {checkpoint_labels}, but the data has {datamodule.id2label}; "
            "evaluate with the data config it was trained on"
        )
    model: LightningModule = build(cfg, "model", id2label=datamodule.id2label)
    trainer: Trainer = build(cfg, "trainer", logger=build_all(cfg.get("logger")))
    # weights_only=False: the checkpoint's hyperparameters hold the optimizer partials from the config
    trainer.test(model, datamodule=datamodule, ckpt_path=str(ckpt_path), weights_only=False)
    return {name: float(value) for name, value in trainer.callback_metrics.items()}


def _checkpoint_labels(path: Path) -> dict[int, str] | None:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a file that is not a checkpoint
        raise UserError(f"ckpt_path is not a readable Lightning checkpoint: {path} ({err})") from err
    labels = checkpoint.get("hyper_parameters", {}).get("id2label")
    return {int(i): label for i, label in labels.items()} if labels else None
