"""A local ``/opt/ml`` tree laid out as SageMaker lays it for one instance, and the entry point run on it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.cli import REPO_ROOT, cli_env

DATA_OBJECT = "5b6c7570da1d206de3bd79487fd30b"  # the channel holds the DVC object, named by its hash


def lay_out(
    root: Path, overrides: list[str], data: Path, host: str = "algo-1", hosts: tuple[str, ...] = ("algo-1",)
) -> Path:
    """``root`` as SageMaker leaves it before ``train`` starts: config files, the data channel, empty folders."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    hyperparameters = {"overrides": json.dumps(overrides), "data_file": data.name}
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": list(hosts)}))
    channel = root / "input" / "data" / "training"
    channel.mkdir(parents=True)
    shutil.copy(data, channel / DATA_OBJECT)
    for folder in ("model", "checkpoints", "output"):
        (root / folder).mkdir()
    return root


def container_env(root: Path, **extra: str) -> dict[str, str]:
    return cli_env(NLPOPS_SAGEMAKER_ROOT=str(root), **extra)


def start(root: Path, **extra: str) -> subprocess.Popen:
    """``docker run IMAGE train`` on this tree: the image's entry point, from the repository (the image's /app),
    in a process group of its own (the processes Lightning starts for further devices included)."""
    return subprocess.Popen(
        [sys.executable, "-m", "nlpops.cloud.container", "train"],
        cwd=REPO_ROOT,
        env=container_env(root, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    """The process's output once it has ended; on timeout its whole group is killed, as the container would be."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise


def run(root: Path, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
    process = start(root, **extra)
    out, err = finish(process, timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def final_metrics(root: Path) -> dict[str, float]:
    """The run's metrics.json, in ``output/data`` (SageMaker uploads it as output.tar.gz)."""
    return json.loads((root / "output" / "data" / "run" / "metrics.json").read_text())
