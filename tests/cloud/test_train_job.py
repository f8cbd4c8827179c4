"""``python -m nlpops.cloud train`` against moto: the request it makes, and bad input that creates nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from nlpops.cloud.__main__ import main
from nlpops.cloud.config import compose_train, metric_definitions, metric_names
from tests.cli import REPO_ROOT
from tests.cloud.account import BUCKET, REPOSITORY, ROLE_ARN, TAG, Account

SPOT_RUN = [
    "train",
    "--instance-type=ml.g5.xlarge",
    "--instance-count=2",
    "--spot",
    "--max-run=3600",
    f"--image-tag={TAG}",
    "--job-name=nlpops-train-test",
    "--",
    "trainer.max_epochs=5",
    "data.batch_size=16",
]


def test_train_creates_a_spot_job_that_runs_the_overrides(account: Account, capsys: pytest.CaptureFixture) -> None:
    assert main(SPOT_RUN) == 0
    assert "created training job nlpops-train-test" in capsys.readouterr().out

    job = account.sagemaker.describe_training_job(TrainingJobName="nlpops-train-test")
    assert json.loads(job["HyperParameters"]["overrides"]) == ["trainer.max_epochs=5", "data.batch_size=16"]
    assert job["HyperParameters"]["data_file"] == "rotten_tomatoes_corpus_full.csv.bz2"
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith(f"/{REPOSITORY}:{TAG}")
    assert job["RoleArn"] == ROLE_ARN
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert job["ResourceConfig"]["InstanceCount"] == 2
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["CheckpointConfig"] == {
        "S3Uri": f"s3://{BUCKET}/sagemaker/checkpoints/nlpops-train-test",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/sagemaker/output"
    (channel,) = job["InputDataConfig"]
    assert re.fullmatch(
        rf"s3://{BUCKET}/dvc/files/md5/[0-9a-f]{{2}}/[0-9a-f]{{30}}", channel["DataSource"]["S3DataSource"]["S3Uri"]
    )


def test_metric_definitions_parse_the_container_metric_lines() -> None:
    """moto keeps its own metric definitions, so the job's are checked as the command builds them."""
    definitions = metric_definitions(metric_names(compose_train(["trainer.max_epochs=5"], REPO_ROOT / "configs")))
    line = "metrics: epoch=2 train/loss_epoch=0.41 val/acc=0.75 val/acc_best=0.8125 val/loss=0.5"
    found = {item["Name"]: float(m[1]) for item in definitions if (m := re.search(item["Regex"], line))}
    assert found == {"val/acc": 0.75, "val/acc_best": 0.8125, "val/loss": 0.5, "train/loss_epoch": 0.41}
    assert {item["Name"] for item in definitions} >= {"val/acc_best", "test/acc"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--image-tag=missing"], "no image nlpops-train:missing in ECR"),
        (["--instance-type=ml.banana.xlarge"], "unknown instance type 'ml.banana.xlarge'"),
        (["--instance-type=g5.xlarge"], "unknown instance type 'g5.xlarge'"),
        (["--max-wait=1800"], "--max-wait 1800 is shorter than --max-run 3600"),
        (["--", "trainer.max_epochz=5"], "the overrides do not compose"),
        (["--", "data=no_such_data"], "the overrides do not compose"),
        (["--role-arn=admin"], "not an IAM role ARN"),
        (["--data=data/not-tracked.csv"], "--data data/not-tracked.csv: not a DVC-tracked file"),
    ],
)
def test_bad_input_is_one_error_line_and_creates_nothing(
    account: Account, capsys: pytest.CaptureFixture, change: list[str], message: str
) -> None:
    args = [*SPOT_RUN[:7], *change, *SPOT_RUN[7:]] if change[0] != "--" else [*SPOT_RUN[:7], *change]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert account.training_jobs() == []


def test_no_credentials_is_an_error_before_any_call(
    account: Account, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(SPOT_RUN) == 2
    assert capsys.readouterr().err.startswith("error: no AWS credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert account.training_jobs() == []


def test_no_role_is_an_error(account: Account, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NLPOPS_SAGEMAKER_ROLE_ARN")
    assert main(SPOT_RUN) == 2
    assert "terraform -chdir=infra output -raw sagemaker_role_arn" in capsys.readouterr().err
    assert account.training_jobs() == []


def test_the_command_line_exits_2_with_one_error_line(account: Account) -> None:
    args = ["train", "--instance-type=ml.nope.xlarge", f"--image-tag={TAG}", "--", "trainer.max_epochs=1"]
    done = subprocess.run(
        [sys.executable, "-m", "nlpops.cloud", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown instance type 'ml.nope.xlarge'") and done.stderr.count("\n") == 1
    assert account.training_jobs() == []
