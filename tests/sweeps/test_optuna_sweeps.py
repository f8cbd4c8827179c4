"""Optuna sweeps through the real train.py: a study in SQLite that survives kills, is shared, and is summarised."""

from __future__ import annotations

import csv
import subprocess
import sys
import time

import pytest
from optuna.trial import TrialState

from tests.cli import REPO_ROOT, cli_env, run_cli, start_cli
from tests.sweeps.sweeps import load_study, sweep_args, sweep_dir, trials_in


def test_a_sweep_keeps_its_study_summarises_it_and_a_rerun_adds_no_trial(tiny_args, tmp_path):
    args = sweep_args(tiny_args, 2)
    result = run_cli("train.py", *args)
    assert result.returncode == 0, result.stderr
    study = load_study(tmp_path)
    done = trials_in(study, TrialState.COMPLETE)
    assert len(done) == 2 and len(study.trials) == 2
    best = study.best_trial

    folder = sweep_dir(tmp_path)
    assert f"Best trial {best.number}: value {best.value:.6g}" in result.stdout
    assert f"Best trial {best.number}: value {best.value:.6g}" in (folder / "trials.md").read_text()
    with (folder / "trials.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [int(row["trial"]) for row in rows] == [0, 1] and {row["state"] for row in rows} == {"COMPLETE"}
    assert {"model.optimizer.lr", "data.batch_size", "model.warmup_ratio"} <= set(rows[0])
    assert f"best_value: {best.value}" in (folder / "optimization_results.yaml").read_text()
    page = (folder / "optimization.html").read_text()
    assert "<svg" in page and "Optimisation history" in page and "<script" not in page  # offline: no JS, no CDN
    assert (folder / "optimization.png").read_bytes().startswith(b"\x89PNG")
    for trial in done:  # each trial trained in its own folder, named after its overrides
        run_dir = folder / rows[trial.number]["run_dir"]
        assert (run_dir / "metrics.json").is_file() and (run_dir / "checkpoints/last.ckpt").exists()

    again = run_cli("train.py", *args)  # n_trials counts the study's trials, not this run's
    assert again.returncode == 0, again.stderr
    assert len(load_study(tmp_path).trials) == 2
    assert "Launching" not in again.stdout + again.stderr


def test_a_sweep_killed_mid_trial_and_run_again_ends_with_n_trials_and_resumes_the_killed_one(tiny_args, tmp_path):
    args = sweep_args(tiny_args, 3, epochs=4)
    process = start_cli("train.py", *args)
    deadline = time.monotonic() + 120
    while not list(sweep_dir(tmp_path).glob("*/checkpoints/last.ckpt")):  # a trial is part-way through training
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.kill()  # SIGKILL: its trial stays RUNNING in the study
    assert process.wait() == -9
    (killed,) = trials_in(load_study(tmp_path), TrialState.RUNNING)

    result = run_cli("train.py", *args)
    assert result.returncode == 0, result.stderr
    study = load_study(tmp_path)
    done = trials_in(study, TrialState.COMPLETE)
    assert len(done) == 3
    assert [t.number for t in trials_in(study, TrialState.FAIL)] == [killed.number]
    (rerun,) = [t for t in done if t.system_attrs.get("failed_trial") == killed.number]
    assert rerun.params == killed.params
    assert "Resuming from" in (sweep_dir(tmp_path) / rerun.user_attrs["run_dir"] / "train.log").read_text()


def test_two_sweep_processes_on_one_storage_share_the_study_without_duplicates(tiny_args, tmp_path):
    args = sweep_args(tiny_args, 4)
    processes = [
        subprocess.Popen(  # stdout kept: it says which trials each process launched
            [sys.executable, "train.py", *args],
            cwd=REPO_ROOT,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    study = load_study(tmp_path)
    done = trials_in(study, TrialState.COMPLETE)
    assert len(done) == 4
    assert len({t.user_attrs["run_dir"] for t in done}) == 4  # no two trials trained in the same folder
    launched = [(stdout + stderr).count("Launching 1 jobs locally") for stdout, stderr in outputs]
    ran = [t for t in study.trials if "run_dir" in t.user_attrs]  # a trial two processes claimed at once did not run
    assert sum(launched) == len(ran) == 4 and min(launched) >= 1, (launched, [(t.number, t.state) for t in ran])


def test_a_failing_trial_is_recorded_as_failed_and_the_sweep_goes_on(tiny_args, tmp_path):
    # seed 3 draws the invalid learning rate for trial 0 and a valid one for trials 1 and 2
    args = sweep_args(tiny_args, 2, "model.optimizer.lr=choice(-1.0,0.003)", "hydra.sweeper.sampler.seed=3")
    result = run_cli("train.py", *args)
    assert result.returncode == 0, result.stderr
    study = load_study(tmp_path)
    assert len(trials_in(study, TrialState.COMPLETE)) == 2
    (failed,) = trials_in(study, TrialState.FAIL)
    assert failed.params["model.optimizer.lr"] == -1.0
    assert failed.user_attrs["error"].startswith("ValueError: Invalid learning rate")
    assert "ValueError: Invalid learning rate" in (sweep_dir(tmp_path) / "trials.md").read_text()


def test_more_failures_than_max_failure_rate_allows_stop_the_sweep(tiny_args, tmp_path):
    args = sweep_args(tiny_args, 2, "model.optimizer.lr=-1.0", "hydra.sweeper.max_failure_rate=0.5")
    result = run_cli("train.py", *args)
    assert result.returncode == 1
    assert "2 trials failed, more than max_failure_rate=0.5 of n_trials=2 allow" in result.stderr
    assert len(trials_in(load_study(tmp_path), TrialState.FAIL)) == 2


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("nosuchdb://host/db", "hydra.sweeper.storage: cannot open nosuchdb://host/db: "),
        (
            "postgresql://me:secret@127.0.0.1:1/db",
            "hydra.sweeper.storage: cannot open postgresql://me:***@127.0.0.1:1/db: ",
        ),
    ],
)
def test_a_storage_that_does_not_open_is_one_error_line_and_exit_2(tiny_args, tmp_path, storage, message):
    result = run_cli("train.py", *sweep_args(tiny_args, 1, f"hydra.sweeper.storage={storage}"))
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: {message}") and "secret" not in result.stderr
    assert "Traceback" not in result.stderr
