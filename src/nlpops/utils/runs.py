"""Plumbing shared by the entry points: one-line errors, config printing, files every run writes."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from nlpops.errors import UserError
from nlpops.utils.logs import FILE_ONLY, tidy_console

log = logging.getLogger(__name__)
T = TypeVar("T")

EXIT_USER_ERROR = 2


def run_stage(stage: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """Run an entry point's ``stage``: a ``UserError`` becomes one ``error:`` line and exit 2; W&B is always closed.

    The error is printed on stderr, and goes to the run's log file only, not to the console a second time.
    Closing W&B after every stage keeps the jobs of a multirun from merging into one W&B run.
    """
    tidy_console()
    try:
        if cfg.get("extras", {}).get("print_config"):
            print_config(cfg)
        return stage(cfg)
    except (UserError, MissingMandatoryValue) as err:
        message = _user_message(err)
        log.error(message, extra=FILE_ONLY)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    finally:
        if "wandb" in sys.modules and sys.modules["wandb"].run is not None:
            sys.modules["wandb"].finish()


def _user_message(err: UserError | MissingMandatoryValue) -> str:
    if isinstance(err, MissingMandatoryValue):
        return f"missing value for '{err.full_key}': pass {err.full_key}=... on the command line"
    return str(err)


def print_config(cfg: DictConfig) -> None:
    """Print the composed config; interpolations stay unresolved, so printing fetches nothing."""
    from rich import print as rich_print
    from rich.syntax import Syntax

    rich_print(Syntax(OmegaConf.to_yaml(cfg), "yaml", theme="ansi_dark"))


def require_file(key: str, path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{key} does not exist: {path}")
    return path


def write_metrics(path: str | Path | None, metrics: dict[str, float]) -> None:
    """Write final metrics as sorted JSON (for scripts, sweeps and DVC); ``None`` writes nothing."""
    if not path:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    log.info("Wrote metrics to %s", path)
