"""The ``create_hyper_parameter_tuning_job`` request: SageMaker's tuner over an ``hparams_search`` config.

The sweep's objective (``optimized_metric``, e.g. ``val/acc_best``) and direction come from the same config the
Optuna sweeper reads, and SageMaker parses the objective from the training log with the job's metric
definitions. Each training job gets the sweep's parameters as hyperparameters named by their config keys, which
the container turns back into ``key=value`` overrides.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from nlpops.errors import UserError

DIRECTIONS = {"maximize": "Maximize", "minimize": "Minimize"}


def objective(cfg: DictConfig) -> dict[str, str]:
    direction = str(OmegaConf.select(cfg, "hydra.sweeper.direction", default="maximize")).lower()
    if direction not in DIRECTIONS:
        raise UserError(f"hydra.sweeper.direction must be maximize or minimize for SageMaker, got {direction!r}")
    return {"Type": DIRECTIONS[direction], "MetricName": str(OmegaConf.select(cfg, "optimized_metric"))}


def without_search(overrides: list[str]) -> list[str]:
    """The overrides each trial runs with: not ``hparams_search`` (it would make every trial a local sweep)."""
    return [item for item in overrides if not item.lstrip("+~").startswith("hparams_search=")]


def check_limits(max_jobs: int, max_parallel: int) -> None:
    if max_parallel > max_jobs:
        raise UserError(f"--max-parallel {max_parallel} is more than --max-jobs {max_jobs}")


def tuning_job_request(
    name: str,
    *,
    job: dict[str, Any],
    static: dict[str, str],
    ranges: dict[str, list[dict[str, Any]]],
    objective: dict[str, str],
    max_jobs: int,
    max_parallel: int,
) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": objective,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": max_parallel},
            "ParameterRanges": ranges,
        },
        "TrainingJobDefinition": {**job, "StaticHyperParameters": static},
    }
