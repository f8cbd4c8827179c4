"""Read the GitHub Actions workflows as data, so tests check what CD runs, not a copy of it."""

from __future__ import annotations

from typing import Any

import yaml

from tests.cli import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((WORKFLOWS / name).read_text())
    loaded["on"] = loaded.pop(True)  # YAML 1.1 reads the key `on` as true
    return loaded


def matrix_tasks(job: str) -> list[dict[str, str]]:
    """The matrix entries of a CD job, each with its ``task`` (and, for the image, its ``artifact``)."""
    matrix = workflow("cd.yml")["jobs"][job]["strategy"]["matrix"]
    return matrix.get("include") or [{"task": task} for task in matrix["task"]]


def cd_step(job: str, uses: str) -> dict[str, Any]:
    """The one step of a CD job that uses this action."""
    [found] = [step for step in workflow("cd.yml")["jobs"][job]["steps"] if uses in step.get("uses", "")]
    return found
