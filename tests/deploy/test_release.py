"""`python -m nlpops.deploy release` against the moto server: publish, move the alias, smoke-test, roll back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from nlpops.deploy.__main__ import main
from nlpops.deploy.release import function_url
from nlpops.deploy.smoke import smoke_test
from tests.deploy.stand_ins import FRESH, NER_SETTINGS, OBAMA, ROTTEN, SETTINGS, Stack, deployment, write_settings
from tests.local_servers import json_server


def release(stack: Stack, tag: str, smoke_url: str, *options: str) -> int:
    """The command CD runs, with the smoke test pointed at a local server (moto's Function URLs lead nowhere).

    ``options``: e.g. ``"--task", "ner"``, or nothing, as CD ran it before there were tasks (classification).
    """
    settings = ["--settings", str(stack.settings_file)]
    return main(["release", *options, "--image-tag", tag, *settings, "--smoke-url", smoke_url])


def test_a_good_image_becomes_the_live_version(
    stack: Stack, healthy_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.push("v2")
    with stack.serve(healthy_api) as function:
        assert release(stack, "v2", function) == 0

    live = stack.live()
    assert live["Version"] == "2"
    assert live["State"] == "Active" and live["LastUpdateStatus"] == "Successful"  # waited for, then published
    code = stack.lam.get_function(FunctionName=SETTINGS.lambda_function, Qualifier="2")["Code"]
    assert code["ImageUri"].endswith(f"/{SETTINGS.ecr_repository}:v2")
    out, err = capsys.readouterr()
    served = smoke_test(healthy_api).model
    assert out.strip() == (
        f"released {code['ImageUri']} as nlpops-test:live version 2 (was 1), model int8 {served['version']}"
    )
    assert "is version 1" in err and "-> version 2" in err
    assert "labels fresh / rotten" in err


def test_a_wrong_answer_rolls_the_alias_back_to_the_previous_image(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stack.live()
    stack.push("v2")
    with json_server(deployment([FRESH, FRESH])) as broken:
        assert release(stack, "v2", broken) == 1

    live = stack.live()
    assert live["Version"] == "1"
    assert live["CodeSha256"] == before["CodeSha256"]  # the previous image serves again
    assert stack.versions() == ["$LATEST", "1", "2"]  # the failed version stays, for a look at what went wrong
    err = capsys.readouterr().err
    assert "error: smoke test failed" in err and "rolled nlpops-test:live back to version 1" in err


def test_a_version_that_reports_another_model_than_the_release_set_is_rolled_back(
    stack: Stack, healthy_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Right answers, but /ready names another model: here an image that ignores NLPOPS_MODEL_* (the API alone)."""
    stack.push("v2")
    assert release(stack, "v2", healthy_api, "--smoke-timeout", "0.5") == 1
    assert stack.live()["Version"] == "1" and stack.versions() == ["$LATEST", "1", "2"]
    err = capsys.readouterr().err
    assert "GET /ready reports the model {'model_name': 'tiny-artifact', 'model_stage': None}" in err
    assert "expected {'model_name': 'test', 'model_stage': 'live'}" in err
    assert "rolled nlpops-test:live back to version 1" in err


def test_releasing_the_live_image_again_keeps_its_version(stack: Stack, healthy_api: str) -> None:
    stack.push("v2")
    with stack.serve(healthy_api) as function:
        assert release(stack, "v2", function) == 0
        assert release(stack, "v2", function) == 0  # a re-run of the same commit
    assert stack.live()["Version"] == "2"
    assert stack.versions() == ["$LATEST", "1", "2"]


def test_an_image_never_pushed_stops_the_release_before_any_change(
    stack: Stack, healthy_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert release(stack, "v9", healthy_api) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: no image tagged v9 in ECR repository nlpops-test: "
        "push it first (CD builds one per commit pushed to main)"
    )
    assert stack.versions() == ["$LATEST", "1"] and stack.live()["Version"] == "1"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"LAMBDA_ALIAS": "canary", "STAGES": "live,prod,canary"}, "canary"),  # a stage not applied yet
        ({"NAME_PREFIX": "other"}, "no ECR repository other-test in eu-west-1"),
    ],
)
def test_missing_infrastructure_says_to_create_it_with_terraform(
    stack: Stack, healthy_api: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, problem: str
) -> None:
    stack.settings_file = write_settings(tmp_path / "other.env", **change)
    assert release(stack, "v1", healthy_api) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and problem in err and "terraform -chdir=infra apply" in err


def test_a_good_ner_image_becomes_the_live_version_of_the_ner_function_alone(
    stack: Stack, ner_stack: Stack, healthy_ner_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ner_stack.push("v2")
    with ner_stack.serve(healthy_ner_api) as function:
        assert release(ner_stack, "v2", function, "--task", "ner") == 0

    assert ner_stack.live()["Version"] == "2"
    code = ner_stack.lam.get_function(FunctionName=NER_SETTINGS.lambda_function, Qualifier="2")["Code"]
    assert code["ImageUri"] == f"{ner_stack.repository_uri()}:v2"
    assert stack.live()["Version"] == "1" and stack.versions() == ["$LATEST", "1"]  # classification untouched
    out, err = capsys.readouterr()
    assert out.startswith(f"released {code['ImageUri']} as nlpops-test-ner:live version 2 (was 1), model int8 ")
    assert "smoke    " in err and "entities " in err  # the NER check ran: entities whose spans match the text


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (deployment([{"entities": [OBAMA | {"start": 1}]}]), "does not point at its text"),
        (deployment([{"entities": []}]), "got no entities"),
        (deployment([FRESH, ROTTEN]), "expected one result with entities"),  # a classifier's answer
    ],
)
def test_a_wrong_ner_answer_rolls_the_ner_alias_back(
    ner_stack: Stack, capsys: pytest.CaptureFixture[str], answer: Any, problem: str
) -> None:
    before = ner_stack.live()
    ner_stack.push("v2")
    with json_server(answer) as broken:
        assert release(ner_stack, "v2", broken, "--task", "ner") == 1

    live = ner_stack.live()
    assert live["Version"] == "1" and live["CodeSha256"] == before["CodeSha256"]
    assert ner_stack.versions() == ["$LATEST", "1", "2"]
    err = capsys.readouterr().err
    assert problem in err and "rolled nlpops-test-ner:live back to version 1" in err


def test_a_classifier_image_released_as_ner_is_rolled_back(
    ner_stack: Stack, healthy_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other task's image in this function (a mix-up of CD's matrix) fails the check: no /ner route."""
    ner_stack.push("v2")
    assert release(ner_stack, "v2", healthy_api, "--task", "ner") == 1
    assert ner_stack.live()["Version"] == "1"
    assert "404 from" in capsys.readouterr().err


def test_a_new_tasks_first_release_says_how_to_create_its_function(
    aws: str, settings_file: Path, healthy_ner_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The repository exists and CD pushed the image, but Terraform has not created the function yet."""
    new_task = Stack.create(settings_file, NER_SETTINGS)
    assert release(new_task, "v1", healthy_ner_api, "--task", "ner") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Function not found") and "nlpops-test-ner" in err
    assert err.rstrip().endswith(
        "create the function from this image with `terraform -chdir=infra apply -var image_tag=v1` (docs/deployment.md)"
    )


def test_an_unknown_task_stops_the_release_with_the_tasks_deployed(
    stack: Stack, healthy_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert release(stack, "v1", healthy_api, "--task", "sentiment") == 2
    err = capsys.readouterr().err
    assert err == f"error: unknown task 'sentiment': {stack.settings_file} deploys classification, ner (its TASKS)\n"


def test_without_credentials_the_release_stops_with_one_line(
    stack: Stack, healthy_api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert release(stack, "v1", healthy_api) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no AWS credentials") and err.count("\n") == 1


def test_the_smoke_test_defaults_to_the_aliass_function_url(stack: Stack) -> None:
    lam = boto3.session.Session(region_name=SETTINGS.aws_region).client("lambda")
    url = function_url(lam, SETTINGS.lambda_function, SETTINGS.lambda_alias)
    assert url == stack.lam.get_function_url_config(FunctionName="nlpops-test", Qualifier="live")["FunctionUrl"]
    assert ".lambda-url.eu-west-1." in url


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["--image-tag", "not a tag"], "is not an image tag"),
        (["--image-tag", "v1", "--smoke-timeout", "0"], "not a positive number of seconds"),
        (["--image-tag", "v1", "--smoke-timeout", "inf"], "not a positive number of seconds"),
        (["--image-tag", "v1", "--smoke-url", "ftp://x"], "not an http(s) URL"),
        ([], "required: --image-tag"),
    ],
)
def test_bad_arguments_exit_2_with_the_problem(
    arguments: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["release", *arguments])
    assert exited.value.code == 2
    assert problem in capsys.readouterr().err
