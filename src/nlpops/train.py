"""The training stage: build everything from the config, fit, test the best checkpoint, publish the model."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from omegaconf import DictConfig, OmegaConf

from nlpops.data.base import TransformerDataModule
from nlpops.model_record import training_record, write_record
from nlpops.utils.files import atomic_directory
from nlpops.utils.instantiate import build, build_all, check_config
from nlpops.utils.runs import require_file, write_metrics

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train (resuming a killed run of the same command), test, and save the best model in HF format.

    The saved folder also holds ``manifest.json``, the model's record (see ``nlpops.model_record``).
    """
    check_config(cfg, "data", "model", "trainer", "callbacks", "logger")
    resume_from = _resume_checkpoint(cfg)
    datamodule: TransformerDataModule = build(cfg, "data")
    datamodule.prepare_data()
    datamodule.setup("fit")

    seed_everything(cfg.seed, workers=True)
    model: LightningModule = build(cfg, "model", **datamodule.model_kwargs())
    trainer: Trainer = build(
        cfg, "trainer", callbacks=build_all(cfg.get("callbacks")), logger=build_all(cfg.get("logger"))
    )
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    if cfg.train:
        # weights_only=False: our checkpoints' hyperparameters hold the optimizer partials from the config
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from, weights_only=False)
    metrics = metric_values(trainer)

    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best:
        log.info("Best checkpoint: %s", best)
        model.load_state_dict(torch.load(best, map_location="cpu", weights_only=False)["state_dict"])
    if cfg.test:
        trainer.test(model, datamodule=datamodule)
        metrics.update(metric_values(trainer))
    if trainer.is_global_zero:
        if trainer.fast_dev_run and cfg.get("model_dir"):
            log.info("fast_dev_run checks the code on one batch: its model is not saved to %s", cfg.model_dir)
        elif cfg.get("model_dir"):
            with atomic_directory(Path(cfg.model_dir)) as scratch:
                model.save_pretrained(scratch, datamodule.tokenizer)
                write_record(scratch, training_record(cfg, datamodule, metrics))
            log.info("Saved the model in Hugging Face format, with its manifest, to %s", cfg.model_dir)
        write_metrics(cfg.get("metrics_file"), metrics)
    return metrics


def _resume_checkpoint(cfg: DictConfig) -> str | None:
    """An explicit ``ckpt_path``, else the last checkpoint a killed run of the same command left behind."""
    if cfg.get("ckpt_path"):
        return str(require_file("ckpt_path", cfg.ckpt_path))
    last = Path(cfg.paths.checkpoint_dir) / "last.ckpt"
    if last.is_file() and not cfg.trainer.get("fast_dev_run"):  # a check of the code starts afresh every time
        log.info("Resuming from %s (a run of the same command was interrupted); use run_name=... for a new run", last)
        return str(last)
    return None


def metric_values(trainer: Trainer) -> dict[str, float]:
    """The trainer's metrics as plain numbers, for ``metrics_file`` (JSON) and the sweepers (training and eval)."""
    return {name: float(value) for name, value in trainer.callback_metrics.items()}
