"""Helpers for the sweep tests: the sweep command line on the tiny model, and its study read back from storage."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

STUDY = "sentiment"
# short trials: the tests are about the study, not the training
FAST = [
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.num_sanity_val_steps=0",
    "test=false",
    "hydra.sweeper.sampler.n_startup_trials=10",
]


def sweep_args(tiny_args: list[str], n_trials: int, *extra: str, epochs: int = 1) -> list[str]:
    """``train.py`` arguments for an Optuna sweep of ``n_trials`` short trials of the tiny model.

    The tiny run's fixed learning rate and batch size are left out: on the command line they would take those
    parameters out of the search.
    """
    searched = ("model.optimizer.lr=", "data.batch_size=")
    return [
        "-m",
        "hparams_search=sentiment_optuna",
        *(arg for arg in tiny_args if not arg.startswith(searched)),
        *FAST,
        f"trainer.max_epochs={epochs}",
        f"hydra.sweeper.n_trials={n_trials}",
        *extra,
    ]


def sweep_dir(root: Path) -> Path:
    return root / "logs/train/sweeps" / STUDY


def load_study(root: Path) -> optuna.Study:
    """The study as another program would read it: from the SQLite file in the sweep folder."""
    return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{sweep_dir(root) / 'optuna.db'}")


def trials_in(study: optuna.Study, state: TrialState) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(state,))
