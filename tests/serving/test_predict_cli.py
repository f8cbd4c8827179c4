"""The batch predict command on real files, on the same core as the API."""

from __future__ import annotations

import json
import os
import select
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from nlpops.serving.classification import SERVING
from nlpops.serving.core import OnnxModel
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


def test_int8_scores_are_the_apis_whatever_the_batch_size(tiny_artifact: Path, tmp_path: Path) -> None:
    texts = ["a brilliant and charming movie", "bland", "the plot is messy but the cast is warm and funny"]
    source = tmp_path / "reviews.txt"
    source.write_text("\n".join(texts) + "\n")
    single = [p.scores for p in (SERVING.predict(OnnxModel.load(tiny_artifact), [text])[0] for text in texts)]
    for batch_size in ("1", "32"):
        output = tmp_path / f"out-{batch_size}.jsonl"
        assert main([str(source), "-o", str(output), "--artifact", str(tiny_artifact), "--batch-size", batch_size]) == 0
        assert [json.loads(line)["scores"] for line in output.read_text().splitlines()] == single


def test_checksums_are_skipped_when_the_environment_says_so(
    tiny_artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    (copy / "tokenizer.json").write_text((copy / "tokenizer.json").read_text() + "\n")  # same tokenizer, new bytes
    source = tmp_path / "reviews.txt"
    source.write_text("a witty film\n")
    assert main([str(source), "--artifact", str(copy)]) == 2
    assert "has sha256" in capsys.readouterr().err
    monkeypatch.setenv("NLPOPS_VERIFY_CHECKSUMS", "false")
    assert main([str(source), "--artifact", str(copy)]) == 0


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
    assert "reading texts from the terminal" not in result.stderr and "predicting" not in result.stderr  # piped
    records = '{"review": "a brilliant movie"}\n{"review": "a dull and tedious movie"}\n'
    result = subprocess.run(
        [sys.executable, "-m", "nlpops.serving.predict", "--artifact", str(tiny_artifact), "--jsonl", "--field=review"],
        input=records,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == ["fresh", "rotten"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_on_a_terminal_it_says_it_reads_stdin_and_shows_progress(tiny_artifact: Path) -> None:
    import fcntl
    import termios

    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a width for the progress bar
    process = subprocess.Popen(
        [sys.executable, "-m", "nlpops.serving.predict", "--artifact", str(tiny_artifact), "--batch-size", "1"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    while b"reading texts from the terminal" not in shown:  # the hint comes before it waits for input
        assert select.select([controller], [], [], 60)[0], f"no hint on the terminal: {shown!r}"
        shown += os.read(controller, 4096)
    os.write(controller, b"a brilliant movie\na witty film\n\x04")  # two lines, then Ctrl-D
    stdout, _ = process.communicate(timeout=60)
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the command exited and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.returncode == 0
    assert [json.loads(line)["text"] for line in stdout.decode().splitlines()] == ["a brilliant movie", "a witty film"]
    assert b"predicting:" in shown and b"/2 [" in shown and b"text/s]" in shown  # the progress bar (then cleared)
    assert b"2 texts in" in shown
