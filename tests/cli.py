"""Run the real entry points (train.py, eval.py) as users do, or Python code, in a fresh process from the repo root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WANDB_API_KEY", None)
    return {**env, **extra}


def run_cli(script: str, *overrides: str, env: dict[str, str] | None = None, timeout: float = 600):
    """Run ``python SCRIPT OVERRIDES...`` and return the completed process (output captured as text)."""
    return subprocess.run(
        [sys.executable, script, *overrides],
        cwd=REPO_ROOT,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(script: str, *overrides: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``python SCRIPT OVERRIDES...`` in the background (for tests that kill it)."""
    return subprocess.Popen(
        [sys.executable, script, *overrides],
        cwd=REPO_ROOT,
        env=env or cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_python_json(code: str, **env: str) -> Any:
    """Run ``python -c CODE`` in a fresh process (``env`` added to its environment); the JSON its last line prints."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=cli_env(**env), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def read_metrics(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "metrics.json").read_text())


def only_run(runs: Path) -> Path:
    """The one run folder under ``runs`` (they are named after the command's overrides)."""
    (run_dir,) = runs.iterdir()
    return run_dir


def killed_and_resumed(args: list[str], root: Path) -> tuple[dict[str, float], dict[str, float]]:
    """The final metrics of an unbroken ``train.py`` run of ``args``, and of the same command SIGKILLed as soon as
    it has written ``last.ckpt`` and then run again; ``args`` write under ``root``. Asserts the rerun resumed."""
    unbroken = run_cli("train.py", *args, f"paths.log_dir={root / 'unbroken'}")
    assert unbroken.returncode == 0, unbroken.stderr
    process = start_cli("train.py", *args)
    deadline = time.monotonic() + 300
    while not list(root.glob("logs/train/runs/*/checkpoints/last.ckpt")):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.kill()  # SIGKILL, as a reclaimed spot instance would
    assert process.wait() == -9
    run_dir = only_run(root / "logs/train/runs")
    resumed = run_cli("train.py", *args)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from" in (run_dir / "train.log").read_text()
    return read_metrics(only_run(root / "unbroken/train/runs")), read_metrics(run_dir)
