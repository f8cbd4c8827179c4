"""The model registry on GTO: a model's versions and stages are git tags, ``artifacts.yaml`` declares the models.

``register`` tags the commit whose ``dvc.lock`` pins the model the pipeline just produced (``MODEL@vX.Y.Z``), so
any version can be fetched later with ``dvc get . PATH --rev MODEL@vX.Y.Z``. ``gto assign`` tags a version for a
stage (``MODEL#STAGE#N``); CD releases what such a tag names (``python -m nlpops.deploy promote``), looked up here
with ``resolve``. ``python -m nlpops.registry register MODEL`` is ``make register``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gto import api
from gto.constants import Action
from gto.exceptions import GTOException
from gto.index import RepoIndexManager
from gto.tag import parse_name
from scmrepo.exceptions import SCMError

from nlpops.errors import UserError
from nlpops.serving.artifact import read_manifest

FIRST_VERSION = "v0.1.0"
BUMPS = ("patch", "minor", "major")
PINS = ("dvc.lock",)  # where a commit pins the DVC-tracked models: uncommitted, a version would not record them


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version, and the git tag that names it (a version tag, or a stage tag)."""

    model: str
    version: str
    commit: str  # what the version's tag points at: CD built the model's image from it, tagged with this SHA
    tag: str
    stage: str | None = None


def declared(repo: Path, rev: str = "HEAD") -> dict[str, str]:
    """The models ``artifacts.yaml`` declares at ``rev``, with their paths."""
    with _gto_errors(), RepoIndexManager.from_url(str(repo)) as index:
        committed = index.get_commit_index(rev)  # None: no artifacts.yaml in that commit
    artifacts = committed.state if committed else {}
    return {name: artifact.path for name, artifact in artifacts.items() if artifact.type == "model"}


def model_path(repo: Path, model: str, rev: str = "HEAD") -> str:
    """Where ``model`` is in the repository at ``rev``; an undeclared model is a UserError naming the declared."""
    models = declared(repo, rev)
    if model not in models:
        known = ", ".join(sorted(models)) or "none (commit artifacts.yaml)"
        raise UserError(f"unknown model '{model}': artifacts.yaml at {rev[:12]} declares {known}")
    return models[model]


def register(repo: Path, model: str, bump: str = "patch") -> ModelVersion:
    """Register the model at HEAD as its next version (``v0.1.0`` first, then ``bump``); the tag is local.

    The tag message carries the model's test metrics from its artifact manifest, so ``gto history`` shows them.
    """
    if bump not in BUMPS:
        raise UserError(f"bump must be one of {', '.join(BUMPS)}, got '{bump}'")
    path = model_path(repo, model)
    _check_pinned(repo, path)
    message = f"{model}: {metrics_summary(Path(repo) / path)}"
    with _gto_errors():
        first = api.find_latest_version(str(repo), model) is None
        version = {"version": FIRST_VERSION} if first else {f"bump_{bump}": True}
        event = api.register(str(repo), model, "HEAD", message=message, **version)
    return ModelVersion(model, event.version, event.commit_hexsha, event.tag)


def resolve(repo: Path, tag: str) -> ModelVersion:
    """The model, version, stage and commit a stage tag (``MODEL#STAGE#N``, as ``gto assign`` writes it) names."""
    if parse_name(tag, raise_on_fail=False).get("action") != Action.ASSIGN:
        raise UserError(f"'{tag}' is not a stage tag: `gto assign MODEL --version vX.Y.Z --stage STAGE` writes one")
    with _gto_errors():
        events = api.check_ref(str(repo), tag)
    if not events:
        raise UserError(f"no tag '{tag}' in {repo}: fetch the tags (`git fetch --tags`)")
    [event] = events
    model_path(repo, event.artifact, event.commit_hexsha)
    return ModelVersion(event.artifact, event.version, event.commit_hexsha, tag, event.stage)


def metrics_summary(artifact: Path) -> str:
    """The exported model's test metrics, e.g. ``test accuracy int8 0.8494, fp32 0.8478``."""
    try:
        manifest = read_manifest(artifact)
    except UserError as err:
        raise UserError(f"no model to register: {err} (run the pipeline, or `dvc pull`)") from None
    test: dict[str, Any] = manifest.metrics.get("test", {})
    scores = [
        f"test {metric} " + ", ".join(f"{variant} {score:.4f}" for variant, score in by_variant.items())
        for metric, by_variant in sorted(test.items())
        if isinstance(by_variant, dict)
    ]
    return "; ".join(scores) or "no test metrics in its manifest"


def _check_pinned(repo: Path, path: str) -> None:
    """The model's pins are committed: a tag on HEAD would otherwise record an older model than the one on disk."""
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", *PINS, path], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    if changed:
        raise UserError(f"commit the model first (`git commit dvc.lock`, then `dvc push`): uncommitted\n{changed}")


@contextmanager
def _gto_errors() -> Iterator[None]:
    """GTO's and git's errors (no repository, a version already registered) as one-line UserErrors."""
    try:
        yield
    except (GTOException, SCMError) as err:
        raise UserError(f"registry: {getattr(err, 'msg', None) or err}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlpops.registry", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    command = commands.add_parser("register", help="register the model at HEAD as its next version (a local git tag)")
    command.add_argument("model", help="its name in artifacts.yaml, e.g. text-classifier")
    command.add_argument(
        "--bump", choices=BUMPS, default="patch", help="which part of the version grows (default: patch)"
    )
    command.add_argument("--repo", type=Path, default=Path("."), help="the git repository (default: .)")
    args = parser.parse_args(argv)
    try:
        done = register(args.repo, args.model, args.bump)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"registered {done.model} {done.version} at {done.commit[:12]}: git push origin {done.tag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
