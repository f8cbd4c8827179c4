"""The registry round trip: real GTO tags in a throwaway repository, `promote` against the moto server.

train (the tiny model) -> register v0.1.0 -> assign prod -> a newer version -> assign prod -> roll back by
assigning v0.1.0 again: each stage tag moves the prod alias to a new Lambda version running the image CD built
from the version's commit, with the model's registry name, version and stage in its environment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nlpops.deploy.__main__ import main
from nlpops.registry import register
from tests.deploy.stand_ins import FRESH, Stack, deployment
from tests.local_servers import json_server
from tests.registry.repository import assign, gto, model_repository, retrain


@pytest.fixture
def repo(tmp_path: Path, tiny_artifact: Path) -> Path:
    return model_repository(tmp_path / "project", tiny_artifact)


def promote(stack: Stack, repo: Path, tag: str, smoke_url: str, *options: str) -> int:
    """What CD runs on a pushed stage tag, the smoke test pointed at a local server."""
    settings = ["--settings", str(stack.settings_file), "--smoke-url", smoke_url]
    return main(["promote", "--tag", tag, "--repo", str(repo), *settings, *options])


def serves(stack: Stack, commit: str, version: str) -> bool:
    """The prod alias runs the image of ``commit`` and reports the registry's ``version`` in prod."""
    live = stack.live("prod")
    code = stack.lam.get_function(FunctionName=stack.settings.lambda_function, Qualifier=live["Version"])["Code"]
    variables = live["Environment"]["Variables"]
    model = {"NLPOPS_MODEL_NAME": "test", "NLPOPS_MODEL_VERSION": version, "NLPOPS_MODEL_STAGE": "prod"}
    return code["ImageUri"].endswith(f":{commit}") and variables == model


def test_register_assign_newer_version_and_roll_back_move_the_prod_alias(
    stack: Stack, repo: Path, healthy_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = register(repo, "test")
    stack.push(first.commit)  # CD built the commit's image when it reached main
    with stack.serve(healthy_api, "prod") as prod:
        assert promote(stack, repo, assign(repo, "test", "v0.1.0"), prod) == 0
        assert serves(stack, first.commit, "v0.1.0") and stack.live("prod")["Version"] == "2"

        retrain(repo, "0.0002")
        newer = register(repo, "test", bump="minor")
        stack.push(newer.commit)
        assert promote(stack, repo, assign(repo, "test", "v0.2.0"), prod) == 0
        assert serves(stack, newer.commit, "v0.2.0") and stack.live("prod")["Version"] == "3"

        rollback = assign(repo, "test", "v0.1.0", force=True)
        assert promote(stack, repo, rollback, prod) == 0
    assert serves(stack, first.commit, "v0.1.0") and stack.live("prod")["Version"] == "4"
    assert stack.live()["Version"] == "1"  # the push-to-main alias (live) is another stage: untouched
    assert "v0.1.0    │ prod" in gto(repo, "show", "test")
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(f"released {stack.repository_uri()}:{first.commit} as nlpops-test:prod version 4 (was 3)")


def test_a_stage_tag_whose_image_was_never_built_leaves_the_alias_untouched(
    stack: Stack, repo: Path, healthy_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version registered on a commit CD never built (e.g. one of a branch): nothing to release."""
    registered = register(repo, "test")
    assert promote(stack, repo, assign(repo, "test", "v0.1.0"), healthy_api) == 2
    err = capsys.readouterr().err
    assert f"error: no image tagged {registered.commit} in ECR repository nlpops-test: push it first" in err
    assert stack.live("prod")["Version"] == "1" and stack.versions() == ["$LATEST", "1"]


def test_a_promoted_version_that_fails_the_smoke_test_is_rolled_back(
    stack: Stack, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.push(register(repo, "test").commit)
    with json_server(deployment([FRESH, FRESH])) as broken:
        assert promote(stack, repo, assign(repo, "test", "v0.1.0"), broken) == 1
    assert stack.live("prod")["Version"] == "1"
    assert "rolled nlpops-test:prod back to version 1" in capsys.readouterr().err


def test_a_promoted_version_whose_url_still_reports_the_previous_model_version_is_rolled_back(
    stack: Stack, repo: Path, healthy_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The prod URL keeps answering as version 2 (v0.1.0) after v0.2.0 was promoted: not the release it asked for."""
    first = register(repo, "test")
    stack.push(first.commit)
    with stack.serve(healthy_api, "prod") as prod:
        assert promote(stack, repo, assign(repo, "test", "v0.1.0"), prod) == 0
    retrain(repo, "0.0002")
    stack.push(register(repo, "test", bump="minor").commit)
    with stack.serve(healthy_api, "2") as stale:
        assert promote(stack, repo, assign(repo, "test", "v0.2.0"), stale, "--smoke-timeout", "0.5") == 1
    live = stack.live("prod")  # (moto shows version 2 with $LATEST's image: its environment is what counts here)
    assert live["Version"] == "2" and live["Environment"]["Variables"]["NLPOPS_MODEL_VERSION"] == "v0.1.0"
    err = capsys.readouterr().err
    assert "'model_version': 'v0.1.0'" in err and "'model_version': 'v0.2.0'" in err
    assert "rolled nlpops-test:prod back to version 2" in err


@pytest.mark.parametrize(
    ("stage_or_model", "problem"),
    [
        ("stage", "no alias for stage 'qa'"),  # a stage deploy.env gives no alias
        ("model", "unknown model 'other'"),  # a model deploy.env deploys no function for
    ],
)
def test_a_stage_or_model_without_a_function_alias_is_refused(
    stack: Stack, repo: Path, healthy_api: str, capsys: pytest.CaptureFixture[str], stage_or_model: str, problem: str
) -> None:
    if stage_or_model == "model":
        (repo / "artifacts.yaml").write_text("other:\n  type: model\n  path: models/test-onnx\n")
        retrain(repo, "0.0002")  # commits the declaration
    model = "other" if stage_or_model == "model" else "test"
    register(repo, model)
    tag = assign(repo, model, "v0.1.0", stage="qa" if stage_or_model == "stage" else "prod")
    assert promote(stack, repo, tag, healthy_api) == 2
    assert problem in capsys.readouterr().err
    assert stack.live("prod")["Version"] == "1"


def test_a_tag_that_is_not_a_stage_tag_is_refused(stack: Stack, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    register(repo, "test")
    assert promote(stack, repo, "test@v0.1.0", "http://127.0.0.1:9") == 2
    assert "is not a stage tag" in capsys.readouterr().err
