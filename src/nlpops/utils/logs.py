"""Console hygiene for the entry points: every line printed once, no library chatter users cannot act on.

Hydra's handlers (console and the run's ``<stage>.log``) are the one place log records go; libraries that
print on their own, or warn about their own internals, are routed or filtered here, by name.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# importing Lightning here also adds its console handler, so it is always there for tidy_console to remove
from lightning.fabric.utilities.warnings import PossibleUserWarning
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger

FILE_ONLY = {"file_only": True}
"""``extra=`` for a record that goes to the run's log file only (the caller prints it on the console itself)."""

# Warnings about library internals, as (message, category, module) regexes of ``warnings.filterwarnings``.
UNACTIONABLE_WARNINGS: tuple[tuple[str, type[Warning], str], ...] = (
    # torch deprecated LeafSpec; Lightning's own pytree helper still uses it
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"lightning\.pytorch\.utilities\._pytree"),
    # num_workers=0 is deliberate: texts are tokenized once up front (see configs/data)
    (r"The '\w+' does not have many workers", PossibleUserWarning, r"lightning\.pytorch\."),
    # only the summary's size estimate is off (it counts bf16 weights as fp32); training is unaffected
    (r"Precision \S+ is not supported by the model summary", UserWarning, r"lightning\.pytorch\."),
)

# Lightning's ``rank_zero_info`` logs through one of these, whichever of its packages was imported last.
_LIGHTNING_RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class _DropLightningTips(logging.Filter):
    """Lightning's "💡 Tip" banners advertise its cloud products (litlogger, litmodels): nothing to act on here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


class _DropFileOnly(logging.Filter):
    """Keeps records logged with ``extra=FILE_ONLY`` off the console handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "file_only", False)


_DROP_TIPS = _DropLightningTips()
_DROP_FILE_ONLY = _DropFileOnly()


def tidy_console() -> None:
    """Route and filter library output so a run prints each line once. Idempotent: each job of a multirun calls it.

    Hydra reconfigures logging for every job, so the console filter is attached to the current handlers each time.
    """
    _route_lightning_logs()
    for name in _LIGHTNING_RANK_ZERO_LOGGERS:
        logging.getLogger(name).addFilter(_DROP_TIPS)
    ignore_unactionable_warnings()
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.addFilter(_DROP_FILE_ONLY)


def ignore_unactionable_warnings() -> None:
    """Ignore the ``UNACTIONABLE_WARNINGS``, each by message, category and module: any other warning still shows."""
    for message, category, module in UNACTIONABLE_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def _route_lightning_logs() -> None:
    """Remove the console handler ``import lightning`` adds, so its records print once, through Hydra's handlers.

    Lightning's records also propagate to the root logger, which Hydra configures: with both, every Lightning
    line was printed twice, ``INFO: ...`` on stderr and then in Hydra's format (the copy that reaches the log file).
    """
    lightning_logger = logging.getLogger("lightning")
    for handler in list(lightning_logger.handlers):
        if type(handler) is logging.StreamHandler:
            lightning_logger.removeHandler(handler)


class WandbLogger(LightningWandbLogger):
    """Lightning's W&B logger, less the ``anonymous`` setting it always passes to ``wandb.init``.

    W&B deprecated that setting and warns about it whenever it is passed, even as ``None``; our configs never set it.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self._wandb_init.get("anonymous") is None:
            del self._wandb_init["anonymous"]


@contextmanager
def quiet(*loggers: str, level: int = logging.ERROR) -> Iterator[None]:
    """Raise these loggers to ``level`` for a moment: their INFO/WARNING lines are exporter internals."""
    previous = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)
