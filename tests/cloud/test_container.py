"""The training image's entry point on local ``/opt/ml`` trees: a run, a spot interruption resumed, two hosts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli import REPO_ROOT
from tests.cloud.sagemaker_tree import final_metrics, finish, lay_out, run, start
from tests.local_servers import free_port


@pytest.fixture
def overrides(tiny_pretrained: Path, tmp_path: Path) -> list[str]:
    """The tiny model and toy data's columns; the container itself points data, model and run at /opt/ml."""
    return [
        f"model.pretrained={tiny_pretrained}",
        "data=text_classification",
        "data.text_column=review",
        "data.label_column=sentiment",
        "data.batch_size=16",
        "model.optimizer.lr=3e-3",
        "trainer=default",
        "logger=csv",
        "extras.print_config=false",
        f"paths.log_dir={tmp_path / 'logs'}",
    ]


def test_a_job_trains_on_the_channel_and_saves_the_model_where_sagemaker_uploads_it(
    overrides: list[str], toy_csv: Path, tmp_path: Path
) -> None:
    root = lay_out(tmp_path / "ml", [*overrides, "trainer.max_epochs=1"], toy_csv)
    done = run(root)
    assert done.returncode == 0, done.stderr
    record = json.loads((root / "model" / "model" / "manifest.json").read_text())
    assert record["data"]["source"].endswith("/reviews.csv")  # the channel's object, under its own name
    assert record["config"]["trainer"]["num_nodes"] == 1
    last = root / "checkpoints" / "last.ckpt"
    assert last.is_file() and not last.is_symlink()  # SageMaker syncs files to S3, not links
    assert "val/acc_best" in final_metrics(root)
    assert "metrics: epoch=0 " in done.stdout and " val/acc_best=" in done.stdout  # what SageMaker parses
    assert not (root / "output" / "failure").exists()


def test_a_replacement_instance_resumes_from_the_synced_checkpoints_to_the_same_metrics(
    overrides: list[str], toy_csv: Path, tmp_path: Path
) -> None:
    args = [*overrides, "trainer.max_epochs=3"]
    unbroken = lay_out(tmp_path / "unbroken", args, toy_csv)
    assert run(unbroken).returncode == 0

    interrupted = lay_out(tmp_path / "spot", args, toy_csv)
    first = start(interrupted)
    deadline = time.monotonic() + 300
    while not (interrupted / "checkpoints" / "last.ckpt").exists():
        assert first.poll() is None, first.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    first.kill()  # SIGKILL: the spot instance is reclaimed
    assert first.wait() == -9
    first.stdout.close(), first.stderr.close()
    # the replacement instance: a fresh /opt/ml at the same path, holding only what SageMaker synced back from S3
    synced = (interrupted / "checkpoints").rename(tmp_path / "s3-checkpoints")
    shutil.rmtree(interrupted)
    replacement = lay_out(interrupted, args, toy_csv)
    (replacement / "checkpoints").rmdir()
    synced.rename(replacement / "checkpoints")

    resumed = run(replacement)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from" in (replacement / "output" / "data" / "run" / "train.log").read_text()
    expected, actual = final_metrics(unbroken), final_metrics(replacement)
    for key in ("val/acc_best", "val/loss", "test/acc", "test/loss"):
        assert actual[key] == pytest.approx(expected[key], abs=1e-6), key


def test_two_hosts_run_one_ddp_job(overrides: list[str], toy_csv: Path, tmp_path: Path) -> None:
    hosts = ("algo-1", "algo-2")
    args = [*overrides, "trainer.max_epochs=1", "trainer.limit_train_batches=4", "trainer.limit_val_batches=2"]
    roots = [lay_out(tmp_path / host, args, toy_csv, host, hosts) for host in hosts]
    # each "instance" resolves algo-1 to itself: the test points both at 127.0.0.1
    network = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    processes = [start(root, **network) for root in roots]
    try:
        results = [finish(process) for process in processes]
    finally:  # a host that waits for a dead peer would wait forever
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
    first = results[0][1]
    assert "Starting with 2 processes" in first
    assert "trainer.num_nodes=2" in first and "trainer.strategy=ddp" in first
    assert (roots[0] / "model" / "model" / "manifest.json").exists()
    assert not (roots[1] / "model" / "model").exists()  # rank 0 publishes the model


def test_a_failure_is_written_where_sagemaker_reads_it(overrides: list[str], toy_csv: Path, tmp_path: Path) -> None:
    root = lay_out(tmp_path / "ml", overrides, toy_csv)
    (root / "input" / "data" / "training" / "extra.csv").write_text("review,sentiment\n")
    done = run(root)
    assert done.returncode == 2
    failure = (root / "output" / "failure").read_text()
    assert "the training channel" in failure and "must hold one data file, found 2" in failure
    assert done.stderr.strip().splitlines()[-1].startswith("error: the training channel")


def test_a_bad_override_fails_the_job_with_a_reason(overrides: list[str], toy_csv: Path, tmp_path: Path) -> None:
    root = lay_out(tmp_path / "ml", [*overrides, "trainer.max_epochz=1"], toy_csv)
    done = run(root)
    assert done.returncode != 0
    assert "train.py exited with status" in (root / "output" / "failure").read_text()


def test_the_image_runs_only_train() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nlpops.cloud.container", "serve"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2 and "this image trains" in done.stderr


def test_several_devices_of_one_host_run_one_ddp_job(overrides: list[str], toy_csv: Path, tmp_path: Path) -> None:
    """Lightning starts a process per further device by re-running the entry point with the overrides."""
    args = [*overrides, "trainer=ddp_sim", "trainer.max_epochs=1", "trainer.limit_train_batches=4"]
    root = lay_out(tmp_path / "ml", [*args, "trainer.limit_val_batches=2"], toy_csv)
    done = run(root, MASTER_PORT=str(free_port()))
    assert done.returncode == 0, done.stderr
    assert "Starting with 2 processes" in done.stderr
    assert (root / "model" / "model" / "manifest.json").exists()
