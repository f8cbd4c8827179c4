"""Deployment settings from ``deploy.env``, the one file that names the AWS region and resources.

The CD workflow loads a task's settings into its job environment (``python -m nlpops.deploy env``), Terraform
parses the file (``infra/settings.tf``) and the release command reads it here, so a name is written once. Each
task ships as its own Lambda function, with an ECR repository of the same name: ``NAME_PREFIX-NAME``, where
``TASKS`` pairs the task (its config name, as in ``configs/task/<config>.yaml``) with its ``NAME``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from nlpops import tasks
from nlpops.errors import UserError

DEFAULT_PATH = Path("deploy.env")
DEFAULT_TASK = "classification"  # what `release` ships without --task: the one function there was at first
REQUIRED = ("AWS_REGION", "NAME_PREFIX", "TASKS", "LAMBDA_ALIAS")
_LINE = re.compile(r"([A-Z][A-Z0-9_]*)=([^\s\"']+)")  # $GITHUB_ENV and Terraform would keep quotes as text
_PAIR = re.compile(r"([a-z][a-z0-9_-]*):([a-z0-9][a-z0-9-]*)")  # TASK:NAME, NAME as Lambda and ECR accept it


@dataclass(frozen=True)
class DeploySettings:
    """What a release of one task needs: where its images are, which alias serves it, which check judges it."""

    aws_region: str
    ecr_repository: str
    lambda_function: str
    lambda_alias: str
    task: str = tasks.CLASSIFICATION  # the nlpops.tasks name, whose smoke check the release must pass

    def as_env(self) -> str:
        """The AWS names as ``KEY=value`` lines for a CD job's environment (``$GITHUB_ENV``)."""
        names = [field.name for field in fields(self) if field.name != "task"]
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


def read_settings(path: Path = DEFAULT_PATH, task: str = DEFAULT_TASK) -> DeploySettings:
    """The settings that release ``task`` (a config name, e.g. ``ner``): its own function and repository."""
    values = parse_env_file(path)
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}")
    names = task_names(values["TASKS"], path)
    if task not in names:
        raise UserError(f"unknown task '{task}': {path} deploys {', '.join(names)} (its TASKS)")
    name = f"{values['NAME_PREFIX']}-{names[task]}"
    return DeploySettings(values["AWS_REGION"], name, name, values["LAMBDA_ALIAS"], task=_by_config()[task].name)


def _by_config() -> dict[str, tasks.Task]:
    """The tasks nlpops knows, by the config name deploy.env and ``--task`` use (``ner``, not its task name)."""
    return {task.config: task for task in tasks.TASKS.values()}
