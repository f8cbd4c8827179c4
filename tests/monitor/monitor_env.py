"""The drift command in the monitor's own environment (.venv-monitor: Evidently, pandas<3), as `make drift` runs it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli import REPO_ROOT

MONITOR_PYTHON = REPO_ROOT / ".venv-monitor" / "bin" / "python"

requires_monitor_env = pytest.mark.skipif(
    not MONITOR_PYTHON.is_file(), reason="no .venv-monitor (Evidently needs pandas<3): run `make monitor-env`"
)


def run_drift(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m nlpops.monitor drift ARGS`` in .venv-monitor, from the repository root."""
    return subprocess.run(
        [str(MONITOR_PYTHON), "-m", "nlpops.monitor", "drift", *map(str, args)],
        cwd=REPO_ROOT,
        env=(env or dict(os.environ)) | {"DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def summary(html: Path) -> dict[str, Any]:
    """The JSON summary written next to the HTML report."""
    assert html.is_file() and html.stat().st_size > 0
    return json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
