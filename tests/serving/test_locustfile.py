"""``monitoring/locustfile.py``: a short real Locust run against the real API, and its texts file checked up front."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import REPO_ROOT
from tests.local_servers import api_server

LOCUST = [sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "monitoring" / "locustfile.py")]


def run_locust(*arguments: str, texts: Path | None = None) -> subprocess.CompletedProcess:
    env = os.environ | ({"NLPOPS_LOCUST_TEXTS": str(texts)} if texts else {})
    return subprocess.run([*LOCUST, *arguments], env=env, capture_output=True, text=True, timeout=120)


def test_a_short_run_gets_only_good_answers_and_reports_batches_apart(tiny_artifact: Path, tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("a witty film\n\na dull film\nsharp and moving\n")
    with api_server(tiny_artifact) as url:
        done = run_locust("--headless", "-u", "2", "-r", "2", "-t", "3s", "--host", url, "--only-summary", texts=texts)
    assert done.returncode == 0, done.stderr  # Locust exits 1 if any request failed its checks
    assert "/predict [3 texts]" in done.stderr and " /predict " in done.stderr and "/ready" in done.stderr


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "No such file or directory"),
        (b"caf\xe9\n", "can't decode byte 0xe9"),
        (b" \n\n", "has no texts"),
        (b"ok\n" + b"x" * 2001, "1 line(s) over 2000 characters, which the server refuses (the first: line 2)"),
    ],
    ids=["missing", "not-utf-8", "blank", "too-long"],
)
def test_a_bad_texts_file_stops_locust_with_one_error_line(tmp_path: Path, content: bytes | None, problem: str) -> None:
    texts = tmp_path / "texts.txt"
    if content is not None:
        texts.write_bytes(content)
    done = run_locust("--list", texts=texts)
    assert done.returncode != 0
    assert f"error: NLPOPS_LOCUST_TEXTS={texts}" in done.stderr and problem in done.stderr
    assert "Traceback" not in done.stderr
