"""Reseeding before every training batch, so a resumed run reproduces an uninterrupted one exactly."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything

_EPOCH_STRIDE = 1_000_003  # more batches than any epoch has, so (epoch, batch) pairs never share a seed


class BatchSeed(Callback):
    """Seeds every RNG from ``(seed, epoch, batch index)`` before each training batch.

    Checkpoints hold no RNG states, and Lightning draws random numbers in different places on a fresh start
    and on a resume, so without this a resumed run draws other dropout masks than the run it continues.
    (The sampler's order is fixed separately by ``EpochShuffleSampler``.)
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        seed_everything(self.seed + _EPOCH_STRIDE * trainer.current_epoch + batch_idx, verbose=False)
