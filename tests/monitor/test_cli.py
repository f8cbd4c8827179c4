"""`python -m nlpops.monitor drift` on bad input: one `error:` line and exit status 2, never a drift verdict.

These run in the main environment: every check comes before the report needs Evidently.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest

from nlpops.monitor.__main__ import main
from tests.monitor.records import classification_record, reviews, write_log


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    return write_log(tmp_path / "reference.jsonl", reviews(60, seed=0))


def error_of(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    """The one error line of a run that must exit with status 2."""
    with pytest.raises(SystemExit) as exited:
        code = main([str(arg) for arg in argv])
        raise SystemExit(code)
    assert exited.value.code == 2
    [line] = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    return line


def test_no_reference_says_which_file_and_how_to_make_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    current = write_log(tmp_path / "current.jsonl", reviews(60, seed=1))
    line = error_of(capsys, "drift", "--task", "ner", "--current", current)
    assert line == (
        "error: no reference predictions at reports/ner/reference.jsonl: run the evaluate stage "
        "(dvc repro evaluate@ner) or pass --reference"
    )


def test_no_current_log(capsys: pytest.CaptureFixture[str], reference: Path, tmp_path: Path) -> None:
    line = error_of(capsys, "drift", "--reference", reference, "--current", tmp_path / "missing.jsonl")
    assert line == f"error: no prediction log at {tmp_path / 'missing.jsonl'}"


def test_too_few_current_predictions_are_an_error_not_a_false_alarm(
    capsys: pytest.CaptureFixture[str], reference: Path, tmp_path: Path
) -> None:
    current = write_log(tmp_path / "current.jsonl", reviews(29, seed=1), extra_lines=["not json"])
    line = error_of(capsys, "drift", "--reference", reference, "--current", current)
    assert "has 29 predictions of text-classifier (text-classification), a drift test needs at least 30" in line
    assert "skipped lines: {'not JSON': 1}" in line


def test_a_current_log_of_another_model_names_it(
    capsys: pytest.CaptureFixture[str], reference: Path, tmp_path: Path
) -> None:
    current = write_log(tmp_path / "current.jsonl", [classification_record(50, model="model")] * 40)
    line = error_of(capsys, "drift", "--reference", reference, "--current", current)
    assert "has 0 predictions of text-classifier" in line and "'model model (text-classification)': 40" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["drift"], "one of the arguments --current --cloudwatch is required"),
        (["drift", "--current", "a", "--cloudwatch", "f"], "not allowed with argument"),
        (["drift", "--current", "a", "--since", "1h"], "--since applies to --cloudwatch only"),
        (["drift", "--cloudwatch", "f", "--since", "yesterday"], "'yesterday' is not a duration like 30m, 24h or 7d"),
        (["drift", "--current", "a", "--min-rows", "0"], "'0' is not a positive whole number"),
        (["drift", "--current", "a", "--task", "qa"], "invalid choice: 'qa'"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert message in error_of(capsys, *argv)


@pytest.mark.skipif(find_spec("evidently") is not None, reason="Evidently is installed in this environment")
def test_without_evidently_it_says_where_the_report_runs(
    capsys: pytest.CaptureFixture[str], reference: Path, tmp_path: Path
) -> None:
    current = write_log(tmp_path / "current.jsonl", reviews(40, seed=1))
    line = error_of(capsys, "drift", "--reference", reference, "--current", current)
    assert "the drift report needs Evidently" in line and "make monitor-env" in line


def test_no_aws_credentials_for_the_cloudwatch_source(
    capsys: pytest.CaptureFixture[str], reference: Path, no_aws: None
) -> None:
    line = error_of(capsys, "drift", "--reference", reference, "--cloudwatch", "nlpops-text-classifier")
    assert line.startswith("error: no AWS credentials for the CloudWatch source")
