"""What a run prints: every line once, no library tips or warnings users cannot act on, an error once."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import pytest

from tests.cli import REPO_ROOT, cli_env, run_cli
from tests.helpers import tiny_overrides

# Hydra's "[time][logger][LEVEL] - " and Lightning's own "LEVEL: ": the same record printed by both reads the same
LOG_PREFIX = re.compile(r"^(\[[^\]]*\]\[[^\]]*\]\[[A-Z]+\] - |[A-Z]+: )")
# progress bars: tqdm's redraws (\r), rich's bar line (it/s) and the metrics it wraps under itself (indented)
PROGRESS_BAR = re.compile(r"\r|it/s|^ {20,}\S")


def console_messages(output: str) -> list[str]:
    """The lines of a run's output, without log prefixes, blank lines and progress bars."""
    lines = [line for line in output.split("\n") if line.strip() and not PROGRESS_BAR.search(line)]
    return [LOG_PREFIX.sub("", line).rstrip() for line in lines]


@pytest.fixture(scope="module")
def fast_dev_run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fast-dev-run")


@pytest.fixture(scope="module")
def fast_dev_run(tiny_pretrained: Path, toy_csv: Path, fast_dev_run_root: Path):
    """One tiny ``trainer.fast_dev_run=true`` run (no ``+``), shared by the tests below."""
    return run_cli(
        "train.py", *tiny_overrides(tiny_pretrained, toy_csv, fast_dev_run_root), "trainer.fast_dev_run=true"
    )


def test_a_fast_dev_run_saves_no_model_and_a_second_one_starts_afresh(
    fast_dev_run, tiny_pretrained: Path, toy_csv: Path, fast_dev_run_root: Path
):
    """A check of the code on one batch must not replace the trained model, nor "resume" a finished check."""
    assert fast_dev_run.returncode == 0, fast_dev_run.stderr
    assert not (fast_dev_run_root / "models" / "text-classifier").exists()
    assert "its model is not saved" in fast_dev_run.stdout + fast_dev_run.stderr
    again = run_cli(
        "train.py", *tiny_overrides(tiny_pretrained, toy_csv, fast_dev_run_root), "trainer.fast_dev_run=true"
    )
    assert again.returncode == 0, again.stderr
    assert "Resuming from" not in again.stdout + again.stderr


def test_trainer_arguments_are_overridden_without_a_plus(fast_dev_run):
    assert fast_dev_run.returncode == 0, fast_dev_run.stderr
    assert "Running in `fast_dev_run` mode" in fast_dev_run.stdout


def test_every_line_is_printed_once(fast_dev_run):
    messages = console_messages(fast_dev_run.stdout + fast_dev_run.stderr)
    assert "GPU available: False, used: False" in messages  # Lightning's lines are still there
    assert [message for message, count in Counter(messages).items() if count > 1] == []


def test_no_library_tips_or_deprecation_notices(fast_dev_run):
    output = fast_dev_run.stdout + fast_dev_run.stderr
    assert "Tip:" not in output
    assert "deprecated" not in output


def test_a_bad_value_is_one_error_line_on_the_console_and_goes_to_the_log_file(tiny_args, tmp_path):
    result = run_cli("train.py", *tiny_args, "trainer.max_epochs=abc", "run_name=bad")
    assert result.returncode == 2
    message = "trainer.max_epochs must be int or null, got 'abc'"
    printed = [line for line in (result.stdout + result.stderr).splitlines() if message in line]
    assert printed == [f"error: {message}"]
    assert message in (tmp_path / "logs/train/runs/bad/train.log").read_text()


def test_unactionable_library_warnings_are_ignored_and_others_still_show():
    from lightning.fabric.utilities.warnings import PossibleUserWarning

    from nlpops.utils.logs import ignore_unactionable_warnings

    hidden = "The 'train_dataloader' does not have many workers which may be a bottleneck."
    shown = "The number of training batches (2) is smaller than the logging interval Trainer(log_every_n_steps=10)."
    elsewhere = "The 'train_dataloader' does not have many workers (a warning of our own code)."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ignore_unactionable_warnings()
        warn_from("lightning.pytorch.trainer.connectors.data_connector", hidden, PossibleUserWarning)
        warn_from("lightning.pytorch.loops.fit_loop", shown, PossibleUserWarning)
        warn_from("nlpops.data.base", elsewhere, PossibleUserWarning)
    assert [str(warning.message) for warning in caught] == [shown, elsewhere]


def warn_from(module: str, message: str, category: type[Warning]) -> None:
    """Raise a warning as if from ``module`` (warning filters match the module a warning comes from)."""
    warnings.warn_explicit(message, category, filename=f"{module}.py", lineno=1, module=module)


def test_the_wandb_logger_passes_no_setting_wandb_warns_is_deprecated(tmp_path):
    """In a fresh process: W&B prints each of its warnings once per process."""
    code = (
        "from nlpops.utils.logs import WandbLogger; "
        f"WandbLogger(project='nlpops', save_dir={str(tmp_path)!r}, mode='disabled').experiment"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "anonymous" not in result.stderr
