"""``train`` and ``tune``: check everything a job needs, then create it; nothing is created if a check fails.

The checks run from the cheapest and most local to those that ask AWS: options, config composition, role, data,
credentials, the image in ECR. Only then is the one create call made.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from nlpops.cloud import aws, config, data, jobs, search_space, tuning
from nlpops.cloud.settings import CloudSettings, read_cloud_settings, role_arn
from nlpops.errors import UserError

TUNING_NAME_LIMIT = 32  # SageMaker's limit for a tuning job's name


@dataclass(frozen=True)
class Submission:
    """The options shared by ``train`` and ``tune``, as the command line gave them."""

    settings_file: Path
    options: jobs.JobOptions
    overrides: list[str]
    data_path: str
    image_tag: str | None
    role_arn: str | None
    job_name: str | None


def start_training(request: Submission, log: Callable[[str], None]) -> str:
    """Create a training job running ``train.py`` with the overrides; its name."""
    request.options.check()
    settings = read_cloud_settings(request.settings_file)
    name = jobs.job_name(settings.train_repository, request.job_name)
    cfg = config.compose_train(request.overrides)
    job = _definition(request, settings, cfg, f"{settings.checkpoint_prefix}/{name}", log)
    hyper = jobs.hyperparameters(request.overrides, request.data_path)
    aws.client("sagemaker", settings.region).create_training_job(**jobs.training_job_request(name, job, hyper))
    return name


def start_tuning(request: Submission, max_jobs: int, max_parallel: int, log: Callable[[str], None]) -> str:
    """Create a tuning job over the ``hparams_search`` config among the overrides; its name."""
    request.options.check()
    tuning.check_limits(max_jobs, max_parallel)
    settings = read_cloud_settings(request.settings_file)
    name = jobs.job_name(settings.tuning_prefix, request.job_name, limit=TUNING_NAME_LIMIT)
    cfg = config.compose_train(request.overrides)
    ranges = search_space.parameter_ranges(cfg)
    objective = tuning.objective(cfg)
    # the tuner gives each trial a folder of its own below this prefix (not checked here: moto runs no trial)
    job = _definition(request, settings, cfg, f"{settings.checkpoint_prefix}/{name}", log)
    static = jobs.hyperparameters(tuning.without_search(request.overrides), request.data_path)
    aws.client("sagemaker", settings.region).create_hyper_parameter_tuning_job(
        **tuning.tuning_job_request(
            name,
            job=job,
            static=static,
            ranges=ranges,
            objective=objective,
            max_jobs=max_jobs,
            max_parallel=max_parallel,
        )
    )
    return name


def _definition(
    request: Submission, settings: CloudSettings, cfg: DictConfig, checkpoint_uri: str, log: Callable[[str], None]
) -> dict[str, Any]:
    options = request.options
    role = role_arn(request.role_arn)
    data_url = data.remote_url(request.data_path)
    caller = aws.require_credentials(settings.region)
    image = aws.image_uri(settings.region, settings.train_repository, request.image_tag or _head_commit())
    log(f"as {caller}: image {image}, data {data_url}")
    return jobs.definition(
        image=image,
        role_arn=role,
        options=options,
        data_url=data_url,
        output_prefix=settings.output_prefix,
        checkpoint_uri=checkpoint_uri,
        metric_definitions=config.metric_definitions(config.metric_names(cfg)),
    )


def _head_commit() -> str:
    """The default image tag: CD tags each train image with the commit it was built from."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        raise UserError("no --image-tag and no git commit to default to: pass --image-tag") from None
