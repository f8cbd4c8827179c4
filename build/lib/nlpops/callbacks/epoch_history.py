"""Per-epoch metrics in one small CSV at a fixed path: learning curves for ``dvc plots`` and for people."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from nlpops.utils.files import atomic_file


class EpochHistory(Callback):
    """After every training epoch (validation included), rewrite ``path`` with one row per epoch so far.

    The rows live in the checkpoint too, so a resumed run's file still starts at epoch 0.
    """

    def __init__(self, path: str, metrics: Sequence[str]) -> None:
        self.path = Path(path)
        self.metrics = list(metrics)
        self.rows: list[dict[str, Any]] = []

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        logged = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch, "step": trainer.global_step}
        row |= {name: round(float(logged[name]), 6) if name in logged else "" for name in self.metrics}
        self.rows = [r for r in self.rows if r["epoch"] < trainer.current_epoch] + [row]
        if trainer.is_global_zero:
            self._write()

    def _write(self) -> None:
        with atomic_file(self.path) as scratch, scratch.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=["epoch", "step", *self.metrics])
            writer.writeheader()
            writer.writerows(self.rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))
