"""Evaluation task: test metrics of a checkpoint on the test split of the configured data."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from omegaconf import DictConfig

from nlpops.errors import UserError
from nlpops.utils.instantiate import build, build_all, check_config
from nlpops.utils.runs import require_file, write_metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test ``cfg.ckpt_path`` and write the metrics to ``cfg.metrics_file`` (JSON) when set."""
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
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    write_metrics(cfg.get("metrics_file"), metrics)
    return metrics


def _checkpoint_labels(path: Path) -> dict[int, str] | None:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a file that is not a checkpoint
        raise UserError(f"ckpt_path is not a readable Lightning checkpoint: {path} ({err})") from err
    labels = checkpoint.get("hyper_parameters", {}).get("id2label")
    return {int(i): label for i, label in labels.items()} if labels else None
