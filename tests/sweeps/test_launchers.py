"""Launching jobs through submitit: locally for real, and the SLURM configs Lightning reads its ranks with."""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from lightning.pytorch.plugins.environments import SLURMEnvironment
from optuna.trial import TrialState

from tests.cli import run_cli
from tests.sweeps.sweeps import load_study, sweep_args, sweep_dir, trials_in
from tests.test_configs import compose_train


def test_submitit_local_runs_the_trials_of_a_sweep_in_parallel_processes(tiny_args, tmp_path):
    args = sweep_args(tiny_args, 2, "hydra/launcher=submitit_local", "hydra.sweeper.n_jobs=2")
    result = run_cli("train.py", *args)
    assert result.returncode == 0, result.stderr
    assert "Submitit 'local' sweep output dir" in result.stdout + result.stderr
    done = trials_in(load_study(tmp_path), TrialState.COMPLETE)
    assert len(done) == 2
    jobs = [folder for folder in (sweep_dir(tmp_path) / ".submitit").iterdir() if folder.name.isdigit()]
    assert len(jobs) == 2 and all(list(job.glob("*_result.pkl")) for job in jobs)  # each ran as its own process
    for trial in done:
        assert (sweep_dir(tmp_path) / trial.user_attrs["run_dir"] / "metrics.json").is_file()


def test_the_slurm_launcher_takes_nodes_from_the_trainer_and_one_task_per_gpu():
    cfg = compose_train("trainer=ddp", "trainer.num_nodes=2", "hydra/launcher=slurm", "hydra.launcher.gpus_per_node=4")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.gpus_per_node, launcher.tasks_per_node) == (2, 4, 4)
    assert cfg.trainer.devices == -1  # every GPU SLURM gave the job: gpus_per_node of them, one per task
    assert "plugins" not in cfg.trainer  # no cluster environment forced: Lightning detects SLURM


def test_lightning_takes_ranks_and_world_size_from_slurm_with_our_ddp_trainer(monkeypatch):
    """What srun sets for task 3 of 4 (2 nodes x 2 tasks): Lightning's SLURMEnvironment reads it under our config."""
    slurm = {
        "SLURM_NTASKS": "4",
        "SLURM_NTASKS_PER_NODE": "2",
        "SLURM_NNODES": "2",
        "SLURM_NODEID": "1",
        "SLURM_PROCID": "3",
        "SLURM_LOCALID": "1",
        "SLURM_JOB_NAME": "train",
        "SLURM_JOB_ID": "42",
        "SLURM_NODELIST": "node[1-2]",
    }
    for name, value in slurm.items():
        monkeypatch.setenv(name, value)
    cfg = compose_train("trainer=ddp_sim", "trainer.num_nodes=2")
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert isinstance(trainer.strategy.cluster_environment, SLURMEnvironment)
    assert (trainer.world_size, trainer.global_rank, trainer.node_rank, trainer.local_rank) == (4, 3, 1, 1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["hydra/launcher=slrum"], "Could not find 'hydra/launcher/slrum'"),
        (["hydra/launcher=slurm", "hydra.launcher.partiton=gpu"], "Could not override 'hydra.launcher.partiton'"),
    ],
)
def test_an_unknown_launcher_or_launcher_key_is_refused_by_hydra(overrides, message, tiny_args):
    result = run_cli("train.py", "-m", *tiny_args, *overrides)
    assert result.returncode == 1  # Hydra's own refusal, as for any unknown group or key (tests/test_bad_input.py)
    assert message in result.stderr and "Traceback" not in result.stderr
