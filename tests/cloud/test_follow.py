"""``status``, ``logs`` and ``status --download`` against moto; following a running job and stopping it on Ctrl-C."""

from __future__ import annotations

import io
import json
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nlpops.cloud import follow
from nlpops.cloud.__main__ import main
from tests.cloud.account import BUCKET, TAG, Account

JOB = "nlpops-train-follow"


@pytest.fixture
def job(account: Account) -> str:
    """A job as moto keeps it: completed at once, its model expected at ``<output>/JOB/output/model.tar.gz``."""
    args = ["train", "--instance-type=ml.m5.xlarge", "--spot", f"--image-tag={TAG}", f"--job-name={JOB}"]
    assert main(args) == 0
    return JOB


def write_logs(account: Account, name: str, lines: dict[str, list[str]]) -> None:
    """What SageMaker writes: a stream per instance, ``JOB/algo-N-<epoch seconds>``."""
    group = follow.LOG_GROUP
    if not account.logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        account.logs.create_log_group(logGroupName=group)
    for host, messages in lines.items():
        stream = f"{name}/{host}-1764000000"
        account.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
        events = [{"timestamp": now + i, "message": text} for i, text in enumerate(messages)]
        account.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def test_status_shows_state_transitions_and_final_metrics(job: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["status", job]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{job}: Completed")
    assert "1 x ml.m5.xlarge spot" in out
    assert "Starting" in out and "Preparing the instances for training" in out
    assert "train:progress = 100" in out
    assert f"model: s3://{BUCKET}/sagemaker/output/{job}/output/model.tar.gz" in out


def test_status_of_an_unknown_job_is_an_error(account: Account, capsys: pytest.CaptureFixture) -> None:
    assert main(["status", "no-such-job"]) == 2
    assert capsys.readouterr().err == "error: no training job 'no-such-job' in this account and region\n"


def test_spot_savings_are_the_share_of_training_time_not_billed() -> None:
    job = {"EnableManagedSpotTraining": True, "TrainingTimeInSeconds": 1000, "BillableTimeInSeconds": 300}
    assert follow.spot_savings(job) == pytest.approx(0.7)
    assert follow.spot_savings({**job, "EnableManagedSpotTraining": False}) is None


def test_logs_prints_every_hosts_stream(job: str, account: Account, capsys: pytest.CaptureFixture) -> None:
    write_logs(account, job, {"algo-1": ["epoch 0", "metrics: epoch=0 val/acc=0.5"], "algo-2": ["epoch 0 (rank 1)"]})
    assert main(["logs", job, "--follow", "--poll=0.01"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["[algo-1] epoch 0", "[algo-1] metrics: epoch=0 val/acc=0.5", "[algo-2] epoch 0 (rank 1)"]


def test_download_registers_the_model_with_its_training_record(
    job: str, account: Account, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    account.s3.put_object(Bucket=BUCKET, Key=f"sagemaker/output/{job}/output/model.tar.gz", Body=_model_archive())
    target = tmp_path / "models" / "text-classifier"
    assert main(["status", job, "--download", str(target)]) == 0
    record = json.loads((target / "manifest.json").read_text())
    assert record["task"] == "text-classification"  # the container's record, kept
    trained = record["training_job"]
    assert trained["name"] == job and trained["instance_type"] == "ml.m5.xlarge" and trained["spot"] is True
    assert trained["metrics"] == {"train:progress": 100.0}
    assert (target / "model.safetensors").read_bytes() == b"weights"


def test_download_of_an_archive_without_a_model_is_an_error(
    job: str, account: Account, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    account.s3.put_object(Bucket=BUCKET, Key=f"sagemaker/output/{job}/output/model.tar.gz", Body=_archive({}))
    assert main(["status", job, "--download", str(tmp_path / "model")]) == 2
    assert "holds no model/manifest.json" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


class RunningJob:
    """A SageMaker client whose job runs until stopped (moto's end at once, and moto has no stop call)."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        state = "Stopping" if self.stopped else "InProgress"
        return {"TrainingJobName": TrainingJobName, "TrainingJobStatus": state}

    def stop_training_job(self, TrainingJobName: str) -> None:
        self.stopped.append(TrainingJobName)


def interrupt(seconds: float) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(("answer", "stopped"), [("y", [JOB]), ("", [])])
def test_ctrl_c_while_following_asks_before_stopping(account: Account, answer: str, stopped: list[str]) -> None:
    write_logs(account, JOB, {"algo-1": ["epoch 0"]})
    sagemaker, out, questions = RunningJob(), [], []

    def ask(question: str) -> str:
        questions.append(question)
        return answer

    state = follow.follow(
        sagemaker, account.logs, JOB, poll=1, keep_going=True, out=out.append, ask=ask, sleep=interrupt
    )
    assert out[0] == "[algo-1] epoch 0"
    assert questions == [f"\nstop the job {JOB}? [y/N] "]
    assert sagemaker.stopped == stopped
    assert state == ("Stopping" if stopped else "InProgress")


def _model_archive() -> bytes:
    record = {"task": "text-classification", "metrics": {"val/acc_best": 0.9}}
    return _archive({"model/manifest.json": json.dumps(record).encode(), "model/model.safetensors": b"weights"})


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
