"""nlpops.registry on real git tags in a throwaway repository: register, resolve a stage tag, bad input."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from nlpops.errors import UserError
from nlpops.registry import main, metrics_summary, register, resolve
from tests.registry.repository import assign, git, gto, model_repository, retrain


@pytest.fixture
def repo(tmp_path: Path, tiny_artifact: Path) -> Path:
    return model_repository(tmp_path / "project", tiny_artifact)


def test_versions_start_at_0_1_0_and_bump_with_the_test_metrics_in_the_tag(repo: Path) -> None:
    first = register(repo, "test")
    assert (first.version, first.tag, first.commit) == ("v0.1.0", "test@v0.1.0", git(repo, "rev-parse", "HEAD"))
    retrain(repo, "0.0002")
    assert register(repo, "test").version == "v0.1.1"
    retrain(repo, "0.0003")
    assert register(repo, "test", bump="minor").version == "v0.2.0"
    message = git(repo, "tag", "-l", "--format=%(contents)", "test@v0.1.0")
    assert message.startswith("test: test accuracy fp32 ") and "int8 " in message
    history = gto(repo, "history", "test")
    assert "v0.1.0" in history and "v0.2.0" in history


def test_a_stage_tag_resolves_to_its_version_and_commit(repo: Path) -> None:
    registered = register(repo, "test")
    retrain(repo, "0.0002")
    tag = assign(repo, "test", "v0.1.0")
    assert tag == "test#prod#1"
    assert resolve(repo, tag) == registered.__class__("test", "v0.1.0", registered.commit, tag, "prod")
    assert "v0.1.0" in gto(repo, "show")


def test_the_registry_command_registers_and_says_how_to_push(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["register", "test", "--repo", str(repo)]) == 0
    assert capsys.readouterr().out.strip().endswith(": git push origin test@v0.1.0")


def test_an_unknown_model_is_refused_with_the_declared_ones(repo: Path) -> None:
    with pytest.raises(UserError, match=r"unknown model 'text-classifier': artifacts\.yaml at HEAD declares test$"):
        register(repo, "text-classifier")


def test_without_a_committed_artifacts_yaml_nothing_is_declared(repo: Path) -> None:
    git(repo, "rm", "-q", "--cached", "artifacts.yaml")
    git(repo, "commit", "-q", "-m", "artifacts.yaml not yet committed")
    with pytest.raises(UserError, match=re.escape("declares none (commit artifacts.yaml)")):
        register(repo, "test")


def test_a_model_changed_since_the_commit_is_not_registered(repo: Path) -> None:
    """The tag would record the committed model, not the one on disk."""
    (repo / "models" / "test-onnx" / "manifest.json").write_text("{}")
    with pytest.raises(UserError, match="commit the model first"):
        register(repo, "test")
    assert git(repo, "tag") == ""


def test_a_missing_model_says_to_run_the_pipeline(repo: Path) -> None:
    shutil.rmtree(repo / "models")
    git(repo, "commit", "-q", "-am", "no model")
    with pytest.raises(UserError, match=r"no model to register: .*\(run the pipeline, or `dvc pull`\)"):
        register(repo, "test")


def test_registering_one_commit_twice_is_one_clear_error(repo: Path) -> None:
    register(repo, "test")
    with pytest.raises(UserError, match=r"^registry: .*v0\.1\.0"):
        register(repo, "test")


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        ("test@v0.1.0", "is not a stage tag"),  # a version tag
        ("main", "is not a stage tag"),
        ("test#prod#9", "no tag 'test#prod#9'"),
    ],
)
def test_what_is_not_a_stage_tag_of_the_repository_is_refused(repo: Path, tag: str, problem: str) -> None:
    register(repo, "test")
    with pytest.raises(UserError, match=problem):
        resolve(repo, tag)


def test_outside_a_git_repository_the_registry_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"registry: .*not a git repository"):
        register(tmp_path, "test")
    with pytest.raises(UserError, match=r"registry: .*not a git repository"):
        resolve(tmp_path, "test#prod#1")


def test_the_summary_lists_each_test_metric_by_variant(tiny_artifact: Path) -> None:
    summary = metrics_summary(tiny_artifact)
    assert re.fullmatch(r"test accuracy fp32 [01]\.\d{4}, int8 [01]\.\d{4}, pytorch [01]\.\d{4}", summary)
