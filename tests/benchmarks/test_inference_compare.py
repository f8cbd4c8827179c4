"""The inference benchmark's worker on the tiny artifact, its batching columns, bad counts and inputs refused early."""

from __future__ import annotations

import json
import sys
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


def test_a_missing_artifact_is_one_line_before_any_data_loads(tiny_classifier: Path, tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()

    result = run_cli(
        SCRIPT, "--model-dir", str(tiny_classifier), "--artifact", str(tmp_path / "none"), "--output", str(output)
    )

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: no model artifact at {tmp_path / 'none'} (manifest.json missing): "
        "run `python export.py` first or pass --artifact an exported artifact"
    )
    assert list(output.iterdir()) == []  # no scratch file left behind


def test_a_missing_model_dir_names_the_option_to_pass(tiny_artifact: Path, tmp_path: Path) -> None:
    result = run_cli(SCRIPT, "--model-dir", str(tmp_path / "none"), "--artifact", str(tiny_artifact))

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: no trained model at {tmp_path / 'none'} (config.json missing): "
        "run `python train.py` first or pass --model-dir a model folder train.py saved"
    )


def test_an_output_folder_that_cannot_be_created_is_one_line(
    tiny_classifier: Path, tiny_artifact: Path, tmp_path: Path
) -> None:
    (tmp_path / "file").touch()

    result = run_cli(
        SCRIPT,
        *("--model-dir", str(tiny_classifier), "--artifact", str(tiny_artifact)),
        *("--output", str(tmp_path / "file" / "out")),
    )

    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: cannot create the --output folder {tmp_path / 'file' / 'out'}: Not a directory"
    )


def test_a_failing_worker_says_why(tmp_path: Path) -> None:
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(REVIEWS))

    result = run_cli(SCRIPT, "--engine", "onnx-int8", "--texts-file", str(texts_file), "--artifact", str(tmp_path))

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: no model artifact at {tmp_path} (manifest.json missing)")
    assert "Traceback" not in result.stderr


def test_the_parent_shows_a_failed_workers_error_and_exits_with_its_status(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        inference_compare.run_worker([sys.executable, "-c", "import sys; sys.exit('error: the reason')"])

    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: the reason\n"
