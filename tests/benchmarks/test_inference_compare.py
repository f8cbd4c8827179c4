"""The inference benchmark's worker on the tiny artifact, its batching columns, and bad counts refused up front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import inference_compare
from tests.cli import run_cli

SCRIPT = "benchmarks/inference_compare.py"
REVIEWS = ["a brilliant and charming movie", "dull", "the plot never quite comes together, sadly", "fun", "meh"]


def test_requests_batched_together_keep_their_arrival_order() -> None:
    calls: list[list[str]] = []

    rate = inference_compare.per_second(lambda texts: texts, calls.append, REVIEWS, 2)

    assert calls == [REVIEWS[0:2], REVIEWS[2:4], REVIEWS[4:5]]  # padded as they came, not sorted by length
    assert rate > 0


@pytest.mark.parametrize("engine", ["onnx-int8", "pytorch-fp32"])
def test_the_worker_times_every_column_on_the_artifact(
    engine: str, tiny_classifier: Path, tiny_artifact: Path, tmp_path: Path
) -> None:
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(REVIEWS * 5))

    result = run_cli(
        SCRIPT,
        *("--engine", engine, "--texts-file", str(texts_file), "--request-batch", "3"),
        *("--model-dir", str(tiny_classifier), "--artifact", str(tiny_artifact)),
    )

    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == {"p50_ms", "p99_ms", "batch1_per_s", "batch32_per_s", "request_batch_per_s"}
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert all(figures[rate] > 0 for rate in ("batch1_per_s", "batch32_per_s", "request_batch_per_s"))


@pytest.mark.parametrize("option", ["--sentences", "--threads", "--request-batch"])
def test_counts_below_one_get_one_line(option: str) -> None:
    result = run_cli(SCRIPT, option, "0")

    assert result.returncode == 2
    assert "--sentences, --threads and --request-batch must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr
