"""``python -m nlpops.cloud tune``: SageMaker's tuner over the same ``hparams_search`` config Optuna reads."""

from __future__ import annotations

import json

import pytest

from nlpops.cloud.__main__ import main
from nlpops.cloud.search_space import parameter_range
from nlpops.errors import UserError
from tests.cloud.account import TAG, Account

TUNE = ["tune", "--max-jobs=12", "--max-parallel=3", f"--image-tag={TAG}", "--job-name=nlpops-tune-test", "--"]


def test_tune_creates_a_tuning_job_over_the_configs_search_space(
    account: Account, capsys: pytest.CaptureFixture
) -> None:
    assert main([*TUNE, "hparams_search=sentiment_optuna", "trainer.max_epochs=2"]) == 0
    assert "created tuning job nlpops-tune-test" in capsys.readouterr().out

    job = account.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="nlpops-tune-test")
    config = job["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "val/acc_best"}
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 12
    assert config["ResourceLimits"]["MaxParallelTrainingJobs"] == 3
    ranges = config["ParameterRanges"]
    (lr,) = ranges["ContinuousParameterRanges"]
    assert (lr["Name"], float(lr["MinValue"]), float(lr["MaxValue"])) == ("model.optimizer.lr", 1e-5, 2e-4)
    categorical = {item["Name"]: item["Values"] for item in ranges["CategoricalParameterRanges"]}
    assert categorical["data.batch_size"] == ["16", "32", "64"]
    definition = job["TrainingJobDefinition"]
    # each trial trains once with the other overrides: hparams_search itself would make it a local sweep
    assert json.loads(definition["StaticHyperParameters"]["overrides"]) == ["trainer.max_epochs=2"]
    assert account.training_jobs() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tag(log, interval(1e-5, 2e-4))", ("ContinuousParameterRanges", "1e-05", "0.0002", "Logarithmic")),
        ("interval(0.0, 0.1)", ("ContinuousParameterRanges", "0.0", "0.1", "Linear")),
        ("tag(int, interval(1, 8))", ("IntegerParameterRanges", "1", "8", "Linear")),
        ("range(1, 5)", ("IntegerParameterRanges", "1", "4", "Linear")),
    ],
)
def test_sweep_grammar_maps_to_sagemaker_ranges(text: str, expected: tuple[str, ...]) -> None:
    kind, entry = parameter_range("x", text)
    assert (kind, entry["MinValue"], entry["MaxValue"], entry["ScalingType"]) == expected


def test_choices_are_categorical() -> None:
    assert parameter_range("data.batch_size", "choice(16, 32, 64)") == (
        "CategoricalParameterRanges",
        {"Name": "data.batch_size", "Values": ["16", "32", "64"]},
    )


def test_a_value_sagemaker_cannot_tune_is_a_user_error() -> None:
    with pytest.raises(UserError, match="SageMaker tunes"):
        parameter_range("x", "glob(*)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trainer.max_epochs=2"], "no search space: pass an hparams_search config"),
        (["hparams_search=nope"], "the overrides do not compose"),
    ],
)
def test_bad_tune_input_creates_nothing(
    account: Account, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    assert main([*TUNE, *args]) == 2
    assert message in capsys.readouterr().err
    assert account.tuning_jobs() == []


def test_more_parallel_than_jobs_is_an_error(account: Account, capsys: pytest.CaptureFixture) -> None:
    assert (
        main(
            ["tune", "--max-jobs=2", "--max-parallel=3", f"--image-tag={TAG}", "--", "hparams_search=sentiment_optuna"]
        )
        == 2
    )
    assert "--max-parallel 3 is more than --max-jobs 2" in capsys.readouterr().err
    assert account.tuning_jobs() == []
