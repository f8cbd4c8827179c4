"""The NER baseline benchmark end to end on the tiny model: both runs train and are scored, bad input is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli import run_cli
from tests.ner_helpers import ner_overrides, toy_sentences, write_conll

SCRIPT = "benchmarks/ner_baseline.py"
ROW = r"^\| ({name}) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$"


@pytest.fixture
def tiny_ner_args(tiny_pretrained: Path, tmp_path: Path) -> list[str]:
    """The tiny model on toy sentences (persons and places), minus what the benchmark sets: task and folders."""
    conll = write_conll(tmp_path / "toy.conll", toy_sentences(320), between="\t")
    overrides = ner_overrides(tiny_pretrained, conll, tmp_path)
    return [o for o in overrides if o != "task=ner" and not o.startswith("paths.")]


def test_both_runs_train_on_the_same_split_and_get_scored(tiny_ner_args: list[str], tmp_path: Path) -> None:
    pytest.importorskip("accelerate", reason="the Hugging Face Trainer needs accelerate")
    result = run_cli(SCRIPT, "--epochs", "2", "--output", str(tmp_path / "bench"), *tiny_ner_args)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "fp32 (32-true; HF Trainer: bf16=False)" in result.stdout  # trainer=default: both in fp32
    rows = re.findall(ROW.format(name="ours: .+|HF Trainer.+"), result.stdout, flags=re.MULTILINE)
    assert [name for name, *_ in rows] == ["ours: python train.py task=ner", "HF Trainer, run_ner-style"]
    for _, wall_s, f1, *scores in rows:
        assert float(wall_s) > 0
        assert 0.3 < float(f1) <= 1  # both learn the toy names in two epochs
        assert all(0 <= float(score) <= 1 for score in scores)
    types = re.findall(r"^\| (person|place) \| (\d+) \| [\d.]+ \| [\d.]+ \|$", result.stdout, flags=re.MULTILINE)
    assert [kind for kind, _ in types] == ["person", "place"]
    assert int(types[0][1]) == 32  # every toy sentence has a person: one in each of the 32 test sentences

    [line] = (tmp_path / "bench/ner_baseline.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["epochs"] == 2 and record["precision"] == "32-true" and record["test_sentences"] == 32
    ours, baseline = record["runs"]["ours"], record["runs"]["baseline"]
    # the micro F1 rescored from the published model is train.py's own
    assert ours["scores"]["f1"] == pytest.approx(ours["notes"]["train.py test/f1"], abs=1e-6)
    assert record["wall_baseline_over_ours"] == pytest.approx(baseline["wall_s"] / ours["wall_s"])
    assert record["f1_ours_minus_baseline"] == pytest.approx(ours["scores"]["f1"] - baseline["scores"]["f1"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--epochs", "0"], "--epochs must be at least 1 (got 0)"),
        (["--max-train-samples", "-3"], "--max-train-samples must be at least 1 (got -3)"),
        (["task=classification"], "this benchmark compares NER training: leave out task=..."),
        (
            ["trainer.precision=16-mixed"],
            "the baseline mirrors trainer.precision=32-true or bf16-mixed only (got 16-mixed)",
        ),
        (["trainer.bogus=1"], "bad override: Could not override 'trainer.bogus'"),
    ],
)
def test_bad_arguments_get_one_line_before_anything_trains(arguments: list[str], message: str) -> None:
    result = run_cli(SCRIPT, *arguments)

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
