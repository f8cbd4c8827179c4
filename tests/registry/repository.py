"""A throwaway git repository holding a model under the registry (real GTO tags), as a project would.

The "training" is the tiny exported classifier (the session's ``tiny_artifact``) committed into git at the
declared path: in the real project DVC tracks that folder and ``dvc.lock`` pins it, which changes nothing for
the tags. A newer version is a later commit (other training parameters) with the same files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ARTIFACTS = "test:\n  type: model\n  path: models/test-onnx\n"  # the model deploy.env's TASKS of the tests names
GTO = Path(sys.executable).with_name("gto")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def model_repository(path: Path, artifact: Path) -> Path:
    """A repository whose one commit declares the model ``test`` and holds ``artifact`` at its path."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "ml@example.com")
    git(path, "config", "user.name", "ML engineer")
    (path / "artifacts.yaml").write_text(ARTIFACTS)
    shutil.copytree(artifact, path / "models" / "test-onnx")
    (path / "params.yaml").write_text("lr: 0.0001\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "train the model")
    return path


def retrain(repo: Path, lr: str) -> str:
    """A later commit, as a training run with other parameters leaves it; its SHA."""
    (repo / "params.yaml").write_text(f"lr: {lr}\n")
    git(repo, "commit", "-q", "-am", f"train with lr {lr}")
    return git(repo, "rev-parse", "HEAD")


def gto(repo: Path, *args: str) -> str:
    """The ``gto`` command, as a user runs it."""
    return subprocess.run([GTO, *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def assign(repo: Path, model: str, version: str, stage: str = "prod", force: bool = False) -> str:
    """``gto assign MODEL --version VERSION --stage STAGE``; the stage tag it wrote.

    ``force``: a version that was in the stage before (a rollback) needs ``--force``, GTO's history remembers it.
    """
    out = gto(repo, "assign", model, "--version", version, "--stage", stage, *(["--force"] if force else []))
    return re.search(r"Created git tag '([^']+)'", out)[1]
