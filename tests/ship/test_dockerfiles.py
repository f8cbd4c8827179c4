"""The Dockerfiles: hadolint clean, pinned bases, a build context with what they copy, dependencies as declared."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.cli import REPO_ROOT
from tests.ship.dockerfiles import DOCKER, context_sources, instructions
from tests.ship.workflows import matrix_tasks

DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
HADOLINT = Path(sysconfig.get_path("scripts")) / "hadolint"
ARTIFACTS = {entry["task"]: entry["artifact"] for entry in matrix_tasks("image")}  # exported or pulled, never in git


def test_one_dockerfile_per_image() -> None:
    assert [path.name for path in DOCKERFILES] == ["lambda.Dockerfile", "serve.Dockerfile", "train.Dockerfile"]


def test_hadolint_passes() -> None:
    done = subprocess.run([HADOLINT, "--no-color", *DOCKERFILES], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_base_images_are_pinned_to_a_release() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    images = [service["image"] for service in compose["services"].values() if "build" not in service]
    stages = set()
    for path in DOCKERFILES:
        for instruction in instructions(path):
            if instruction.keyword == "FROM":
                image, *alias = instruction.arguments.split(" AS ")
                images += [] if image in stages else [image]
                stages.update(alias)
    assert len(images) == len(DOCKERFILES) + 2  # one base per Dockerfile, Prometheus, Grafana
    for image in images:  # an exact version (3.12.12, 3.12.2026.06.13.12, v3.5.0), most also a digest
        assert re.search(r":v?\d+(\.\d+){2,}", image), f"{image} is not pinned to a release"


def in_build_context(source: str) -> bool:
    """Whether ``source`` reaches a build: .dockerignore is an allowlist, nothing does unless named."""
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*")] == "*"
    allowed = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    return any(source == entry or source.startswith(entry + "/") for entry in allowed)


def test_the_build_context_holds_everything_the_dockerfiles_copy() -> None:
    for path in DOCKERFILES:
        for source in (source.rstrip("/") for source in context_sources(path)):
            assert in_build_context(source), f"{path.name} copies {source}, which .dockerignore keeps out"
            exists = source in ARTIFACTS.values() or list(REPO_ROOT.glob(source))
            assert exists, f"{path.name} copies {source}: not found"


@pytest.mark.parametrize("task", list(ARTIFACTS))
def test_every_tasks_artifact_reaches_the_image_build(task: str) -> None:
    """CD builds each task's image with its artifact (build arg NLPOPS_ARTIFACT): the folder must be in the context."""
    assert in_build_context(ARTIFACTS[task]), f".dockerignore keeps {ARTIFACTS[task]} out of the build context"


def run_requirements(*extras: str) -> subprocess.CompletedProcess[str]:
    """docker/requirements.py, run as the Dockerfiles run it."""
    command = [sys.executable, DOCKER / "requirements.py", REPO_ROOT / "pyproject.toml", *extras]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


def requirements(*extras: str) -> list[str]:
    """What the images install for these extras."""
    done = run_requirements(*extras)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def names(requirement_lines: list[str]) -> set[str]:
    return {re.split(r"[\[=<>!~ ;]", line, maxsplit=1)[0].lower() for line in requirement_lines}


def test_the_serving_images_install_the_serve_extra_and_no_training_stack() -> None:
    serving = names(requirements("serve"))
    assert {"onnxruntime", "tokenizers", "numpy", "fastapi", "mangum", "prometheus-client"} <= serving
    assert not serving & {"torch", "lightning", "transformers", "hydra-core", "onnx", "dvc"}


def test_an_extra_that_names_another_is_expanded() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    own = [line for line in project["optional-dependencies"]["lambda"] if not line.startswith(project["name"])]
    assert set(requirements("lambda")) == set(requirements("serve")) | set(own)
    assert not any(line.startswith(project["name"]) for line in requirements("lambda"))


def test_the_training_image_installs_torch_with_training_export_and_dvc() -> None:
    assert {"torch", "lightning", "onnxscript", "dvc"} <= names(requirements("train", "export", "dvc"))


def test_an_unknown_extra_fails_the_build_step() -> None:
    done = run_requirements("serve", "gpu")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: ") and "has no extra 'gpu' (it has train, serve," in done.stderr
