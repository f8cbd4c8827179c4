"""What the W&B error-analysis callbacks share: when and where they report."""

from __future__ import annotations

from lightning.pytorch import Trainer
from lightning.pytorch.loggers import WandbLogger


def report_logger(trainer: Trainer) -> WandbLogger | None:
    """The run's W&B logger, when a validation report belongs in it: None without one, in the sanity check,
    and under multi-process training (each process sees only part of the validation set)."""
    if trainer.sanity_checking or trainer.world_size > 1:
        return None
    return next((logger for logger in trainer.loggers if isinstance(logger, WandbLogger)), None)
