"""The study bookkeeping on its own: opening a new database from several processes at once, per-trial seeds."""

from __future__ import annotations

import subprocess
import sys

import optuna
from omegaconf import OmegaConf
from optuna.distributions import LogUniformDistribution

from nlpops.sweeps.study import redacted, reseed_sampler
from tests.cli import REPO_ROOT, cli_env

OPEN = """
import sys, optuna
from nlpops.sweeps.study import open_storage
study = optuna.create_study(study_name="s", storage=open_storage(sys.argv[1]), load_if_exists=True)
print(study.study_name)
"""


def test_sweep_processes_started_together_on_a_new_database_all_open_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'optuna.db'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, url], cwd=REPO_ROOT, env=cli_env(), stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    assert [process.communicate(timeout=120)[0].strip() for process in processes] == ["s"] * 4
    assert len(optuna.get_all_study_summaries(url)) == 1


def draws(seed: int, trials: int) -> list[float]:
    """The learning rates a seeded TPE sampler draws for the first ``trials`` trials of a new study."""
    sampler = OmegaConf.create({"_target_": "optuna.samplers.TPESampler", "seed": seed, "n_startup_trials": 10})
    study = optuna.create_study()
    values = []
    for _ in range(trials):
        trial = study.ask()
        reseed_sampler(study, sampler, trial.number)
        values.append(trial._suggest("lr", LogUniformDistribution(1e-5, 2e-4)))
        study.tell(trial, 0.0)
    return values


def test_trials_draw_from_the_seed_and_their_number_reproducibly_and_apart():
    assert draws(1234, 3) == draws(1234, 3)  # a sweep started afresh draws the same trials again
    assert len(set(draws(1234, 3))) == 3  # a process joining the study draws other values for its trials
    assert draws(1, 3)[1:] != draws(2, 3)[:2]  # neighbouring seeds are not the same draws one trial apart


def test_storage_urls_in_messages_hide_the_password():
    assert redacted("postgresql://me:s3cret@db:5432/optuna") == "postgresql://me:***@db:5432/optuna"
    assert redacted("sqlite:///logs/optuna.db") == "sqlite:///logs/optuna.db"
