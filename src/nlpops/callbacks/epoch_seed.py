"""Per-epoch reseeding, so resuming at an epoch boundary reproduces an uninterrupted run exactly."""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything


class EpochSeed(Callback):
    """Seeds every RNG with ``seed + epoch`` at the start of each training epoch.

    Checkpoints do not hold RNG states, so without this a resumed run would draw different dropout masks
    than the run it continues. (The sampler's order is already fixed by ``EpochShuffleSampler``.)
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        seed_everything(self.seed + trainer.current_epoch, workers=True, verbose=False)
