"""The sweeper that ``configs/hparams_search`` names: Hydra's Optuna sweeper with a study that persists.

Hydra imports every module here at start-up to find plugins (also for ``--help``): the heavy imports (Optuna,
SQLAlchemy) wait until a sweep builds the sweeper, as the stock sweeper does.
"""

from typing import Any

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper


class PersistentOptunaSweeper(OptunaSweeper):
    """Takes the stock sweeper's config (``hydra/sweeper: optuna``); the loop is ``nlpops.sweeps.optuna_sweeper``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from nlpops.sweeps.optuna_sweeper import PersistentSweeperImpl

        self.sweeper = PersistentSweeperImpl(*args, **kwargs)
