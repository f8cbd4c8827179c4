"""The batch predict command on real files, on the same core as the API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlpops.serving.predict import main


def test_text_lines_in_jsonl_predictions_out(tiny_artifact: Path, tmp_path: Path) -> None:
    source = tmp_path / "reviews.txt"
    source.write_text("a brilliant and charming movie\n\na dull and tedious movie\n")
    output = tmp_path / "out.jsonl"
    assert main([str(source), "-o", str(output), "--artifact", str(tiny_artifact)]) == 0
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(r["text"], r["label"]) for r in records] == [
        ("a brilliant and charming movie", "fresh"),
        ("a dull and tedious movie", "rotten"),
    ]
    assert set(records[0]["scores"]) == {"fresh", "rotten"}


def test_jsonl_input_reads_the_text_field(tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "reviews.jsonl"
    source.write_text('{"id": 1, "review": "a witty film"}\n{"id": 2, "review": "bland"}\n')
    assert main([str(source), "--field", "review", "--artifact", str(tiny_artifact), "--variant", "fp32"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_bad_input_files_are_one_error_line(tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "reviews.jsonl"
    source.write_text('{"review": "a witty film"}\n')
    assert main([str(source), "--artifact", str(tiny_artifact)]) == 2
    assert "reviews.jsonl:1: expected a JSON object with a string field 'text'" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.txt"), "--artifact", str(tiny_artifact)]) == 2
    assert main([str(source), "--artifact", str(tmp_path)]) == 2
    assert "python export.py" in capsys.readouterr().err


def test_a_file_that_is_not_utf8_is_one_error_line(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = tmp_path / "reviews.txt"
    source.write_bytes("a witty film\nun film charmant, très réussi\n".encode("latin-1"))
    assert main([str(source), "--artifact", str(tiny_artifact)]) == 2
    assert "reviews.txt is not UTF-8 text (invalid continuation byte: byte 0xe8); convert it" in capsys.readouterr().err


def test_the_output_is_written_whole_or_not_at_all(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source, output = tmp_path / "reviews.jsonl", tmp_path / "predictions.jsonl"
    output.write_text("yesterday's predictions\n")
    source.write_text('{"text": "a witty film"}\n{"text": 3}\n')
    assert main([str(source), "--artifact", str(tiny_artifact), "-o", str(output)]) == 2
    assert output.read_text() == "yesterday's predictions\n"  # a bad input leaves the old output as it was
    source.write_text('{"text": "a witty film"}\n')
    assert main([str(source), "--artifact", str(tiny_artifact), "-o", str(output)]) == 0
    assert json.loads(output.read_text())["text"] == "a witty film"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["predictions.jsonl", "reviews.jsonl"]  # no scratch
    assert main([str(source), "--artifact", str(tiny_artifact), "-o", str(source / "predictions.jsonl")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_help_and_stdin(tiny_artifact: Path) -> None:
    usage = subprocess.run([sys.executable, "-m", "nlpops.serving.predict", "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "--artifact" in usage.stdout
    result = subprocess.run(
        [sys.executable, "-m", "nlpops.serving.predict", "--artifact", str(tiny_artifact)],
        input="a brilliant movie\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["label"] == "fresh"
