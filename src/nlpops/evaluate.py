"""The evaluation stage: test metrics of a checkpoint, or of a model artifact as serving runs it.

``ckpt_path`` evaluates a Lightning checkpoint with the training code; ``artifact_dir`` evaluates what
ships: the artifact's ONNX model (``variant``) through the serving core, with no torch in the loop.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from omegaconf import DictConfig

from nlpops.data.base import TransformerDataModule
from nlpops.errors import UserError
from nlpops.serving.core import OnnxModel
from nlpops.serving.prediction_log import ModelIdentity, RecordBuilder, artifact_name, write_records
from nlpops.serving.preload import load_artifact
from nlpops.serving.task import Evaluation, TaskServing, serving_for
from nlpops.train import metric_values
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
    """The task's test metrics of the artifact's model; ``predictions_file`` gets a row per test example, and
    ``reference_file`` a prediction-log record per test text (no text): the drift report's reference."""
    check_config(cfg, "data")
    model = load_artifact(Path(cfg.artifact_dir), cfg.get("variant", "int8"))
    test = build(cfg, "data").load_splits()["test"]
    serving = serving_for(model.manifest.task)
    evaluation = serving.evaluate(model, test)
    if cfg.get("predictions_file"):
        _write_rows(Path(cfg.predictions_file), evaluation.rows)
    if cfg.get("reference_file"):
        _write_reference(Path(cfg.reference_file), model, serving, evaluation)
    return evaluation.metrics


def _write_reference(path: Path, model: OnnxModel, serving: TaskServing, evaluation: Evaluation) -> None:
    """The records serving would have logged for the test texts, stamped with the model's training time (not
    now), so that the same model always gives the same file."""
    identity = ModelIdentity(artifact_name(model.directory), None, None)
    trained = model.manifest.source.get("training", {}).get("created_at")
    at = datetime.fromisoformat(trained).timestamp() if trained else None
    builder = RecordBuilder(serving, model, identity, source="evaluate")
    write_records(path, builder.records(evaluation.texts, evaluation.answers, request_id="evaluate", at=at))


def _write_rows(path: Path, rows: Sequence[dict[str, str]]) -> None:
    """A CSV row per test example (a classifier: ``actual,predicted``, the confusion matrix ``dvc plots`` draws)."""
    with atomic_file(path) as scratch, scratch.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)


def evaluate_checkpoint(cfg: DictConfig) -> dict[str, float]:
    """Test ``cfg.ckpt_path`` with the Lightning model, trainer and data of the config."""
    check_config(cfg, "data", "model", "trainer", "logger")
    ckpt_path = require_file("ckpt_path", cfg.ckpt_path)
    trained_with = _checkpoint_hyperparameters(ckpt_path)

    datamodule: TransformerDataModule = build(cfg, "data")
    datamodule.prepare_data()
    datamodule.setup("test")
    model_kwargs = datamodule.model_kwargs()
    _check_same_data(ckpt_path, trained_with, model_kwargs)
    model: LightningModule = build(cfg, "model", **model_kwargs)
    trainer: Trainer = build(cfg, "trainer", logger=build_all(cfg.get("logger")))
    # weights_only=False: the checkpoint's hyperparameters hold the optimizer partials from the config
    trainer.test(model, datamodule=datamodule, ckpt_path=str(ckpt_path), weights_only=False)
    return metric_values(trainer)


def _checkpoint_hyperparameters(path: Path) -> dict[str, Any]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a file that is not a checkpoint
        raise UserError(f"ckpt_path is not a readable Lightning checkpoint: {path} ({err})") from err
    return checkpoint.get("hyper_parameters", {})


def _check_same_data(path: Path, trained_with: dict[str, Any], model_kwargs: dict[str, Any]) -> None:
    """Refuse data that tells the model other things (other labels) than the checkpoint's training data did.

    Its weights would load all the same and answer in the wrong terms.
    """
    for key, value in model_kwargs.items():
        saved = trained_with.get(key)
        if saved is not None and saved != value:
            raise UserError(
                f"{path} was trained on {key} {saved}, but the data has {value}; "
                "evaluate with the data config it was trained on"
            )
