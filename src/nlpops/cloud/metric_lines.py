"""A callback printing the epoch's metrics as one ``metrics: name=value ...`` line, for SageMaker to parse.

SageMaker reads metrics only from the job's log, with the regexes of its metric definitions
(``nlpops.cloud.config.metric_definitions``); the progress bar redraws a line in place, which a log does not keep.
The container adds this callback to every job.
"""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only


class MetricLines(Callback):
    """At the end of each validation and test: after the module's epoch-end hooks logged e.g. ``val/acc_best``."""

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.sanity_checking:
            self._print(trainer)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._print(trainer)

    @rank_zero_only
    def _print(self, trainer: Trainer) -> None:
        values = " ".join(f"{name}={float(value):.6g}" for name, value in sorted(trainer.callback_metrics.items()))
        print(f"metrics: epoch={trainer.current_epoch} {values}", flush=True)
