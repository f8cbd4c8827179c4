"""Deployment settings from ``deploy.env``, the one file that names the AWS region and resources.

The CD workflow loads a task's settings into its job environment (``python -m nlpops.deploy env``), Terraform
parses the file (``infra/settings.tf``) and the release command reads it here, so a name is written once. Each
task ships as its own Lambda function, with an ECR repository of the same name: ``NAME_PREFIX-NAME``, where
``TASKS`` pairs the task (its config name, as in ``configs/task/<config>.yaml``) with its ``NAME``, which is also
the model's name in the registry (``artifacts.yaml``). Each function has one alias per stage of ``STAGES``, named
like the registry's stages: a push to main releases to ``LAMBDA_ALIAS``, a stage tag to the alias of its stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from nlpops import tasks
from nlpops.errors import UserError

DEFAULT_PATH = Path("deploy.env")
DEFAULT_TASK = "classification"  # what `release` ships without --task: the one function there was at first
REQUIRED = ("AWS_REGION", "NAME_PREFIX", "TASKS", "LAMBDA_ALIAS", "STAGES")
_LINE = re.compile(r"([A-Z][A-Z0-9_]*)=([^\s\"']+)")  # $GITHUB_ENV and Terraform would keep quotes as text
_PAIR = re.compile(r"([a-z][a-z0-9_-]*):([a-z0-9][a-z0-9-]*)")  # TASK:NAME, NAME as Lambda and ECR accept it
_STAGE = re.compile(r"[a-z][a-z0-9_-]*")  # a name both GTO (stage) and Lambda (alias) accept


@dataclass(frozen=True)
class DeploySettings:
    """What a release of one task needs: where its images are, which alias serves it, which check judges it."""

    aws_region: str
    ecr_repository: str
    lambda_function: str
    lambda_alias: str  # also the registry stage the release serves (NLPOPS_MODEL_STAGE)
    model: str  # the model's registry name (artifacts.yaml), TASKS' NAME
    task: str = tasks.CLASSIFICATION  # the nlpops.tasks name, whose smoke check the release must pass

    def as_env(self) -> str:
        """The AWS names as ``KEY=value`` lines for a CD job's environment (``$GITHUB_ENV``)."""
        names = [field.name for field in fields(self) if field.name not in ("model", "task")]
        return "".join(f"{name.upper()}={getattr(self, name)}\n" for name in names)


def parse_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (no quotes, no spaces); blank lines and ``#`` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no deploy settings at {path}: run from the repository root or pass --settings") from None
    except (OSError, UnicodeDecodeError) as err:  # a folder, unreadable, not text
        raise UserError(f"cannot read deploy settings {path}: {getattr(err, 'strerror', None) or err}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise UserError(f"{path}:{number}: expected KEY=value (no quotes or spaces), got {line!r}")
        values[match[1]] = match[2]
    return values


def task_names(text: str, path: Path) -> dict[str, str]:
    """``TASKS`` as {config name: resource name}: each a task nlpops knows, each task and name once.

    Terraform creates a function for every pair, so a typo would be a stray function: the release refuses it,
    and a test reads the repository's file.
    """
    pairs = [_PAIR.fullmatch(item) for item in text.split(",")]
    if not all(pairs):
        raise UserError(f"{path}: TASKS must be TASK:NAME pairs separated by commas, got {text!r}")
    names = {pair[1]: pair[2] for pair in pairs if pair}
    if len(names) != len(pairs) or len(set(names.values())) != len(pairs):
        raise UserError(f"{path}: TASKS names a task or a NAME twice: {text!r}")
    known = _by_config()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise UserError(f"{path}: TASKS names {', '.join(unknown)}, not a task (known: {', '.join(sorted(known))})")
    return names


def stage_names(values: dict[str, str], path: Path) -> list[str]:
    """``STAGES``: the aliases each function has; ``LAMBDA_ALIAS`` (where a push to main goes) must be one."""
    stages = values["STAGES"].split(",")
    if not all(_STAGE.fullmatch(stage) for stage in stages) or len(set(stages)) != len(stages):
        raise UserError(
            f"{path}: STAGES must be distinct lower-case names separated by commas, got {values['STAGES']!r}"
        )
    if values["LAMBDA_ALIAS"] not in stages:
        raise UserError(f"{path}: LAMBDA_ALIAS={values['LAMBDA_ALIAS']} is not one of STAGES={values['STAGES']}")
    return stages


def read_settings(path: Path = DEFAULT_PATH, task: str = DEFAULT_TASK, stage: str | None = None) -> DeploySettings:
    """The settings that release ``task`` (a config name, e.g. ``ner``) to the alias of ``stage``.

    ``stage`` defaults to ``LAMBDA_ALIAS``, where a push to main goes; a promotion names its registry stage.
    """
    values = _complete(path)
    names = task_names(values["TASKS"], path)
    if task not in names:
        raise UserError(f"unknown task '{task}': {path} deploys {', '.join(names)} (its TASKS)")
    stages = stage_names(values, path)
    alias = values["LAMBDA_ALIAS"] if stage is None else stage
    if alias not in stages:
        raise UserError(f"no alias for stage '{alias}': {path} gives each function {', '.join(stages)} (its STAGES)")
    name = f"{values['NAME_PREFIX']}-{names[task]}"
    return DeploySettings(values["AWS_REGION"], name, name, alias, names[task], task=_by_config()[task].name)


def task_of_model(path: Path, model: str) -> str:
    """The task (config name) whose function serves the registry model ``model``: TASKS read backwards."""
    names = task_names(_complete(path)["TASKS"], path)
    by_model = {name: task for task, name in names.items()}
    if model not in by_model:
        raise UserError(f"unknown model '{model}': {path} deploys {', '.join(by_model)} (the NAMEs of its TASKS)")
    return by_model[model]


def _complete(path: Path) -> dict[str, str]:
    """The file's values, every required key present."""
    values = parse_env_file(path)
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}")
    return values


def _by_config() -> dict[str, tasks.Task]:
    """The tasks nlpops knows, by the config name deploy.env and ``--task`` use (``ner``, not its task name)."""
    return {task.config: task for task in tasks.TASKS.values()}
