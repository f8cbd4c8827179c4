"""Bad input on the command line: a clear message and a non-zero exit before any work, nothing written."""

import re

import pytest

from tests.cli import run_cli
from tests.helpers import toy_reviews, write_csv


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@pytest.fixture
def bad_files(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    write_csv(files / "one_class.csv", [{"review": f"fine film {i}", "sentiment": "fresh"} for i in range(30)])
    (files / "empty.csv").write_text("review,sentiment\n")
    (files / "latin1.csv").write_bytes("review,sentiment\ncaf\xe9 film,fresh\n".encode("latin-1"))
    write_csv(files / "ok.csv", toy_reviews(40))
    return files


CASES = {
    "missing data file": (["data.source={files}/nope.csv"], r"data file not found: .*/nope\.csv"),
    "missing text column": (["data.text_column=body"], r"has no column 'body' .*set data\.text_column"),
    "missing label column": (["data.label_column=stars"], r"has no column 'stars' .*set data\.label_column"),
    "empty dataset": (["data.source={files}/empty.csv"], r"no usable examples in .*/empty\.csv"),
    "single class": (["data.source={files}/one_class.csv"], r"only one label \('fresh'\)"),
    "non-UTF-8 file": (["data.source={files}/latin1.csv"], r"latin1\.csv is not UTF-8 text"),
    "missing checkpoint": (["ckpt_path={files}/nope.ckpt"], r"ckpt_path does not exist: .*/nope\.ckpt"),
    "Hub id offline": (["data.source=hub:nlpops-tests/no-such-dataset"], r"cannot load Hugging Face dataset"),
    "wrong value type": (["trainer.max_epochs=many"], r"trainer\.max_epochs must be int or null, got 'many'"),
    "out-of-range value": (["data.val_fraction=2"], r"data\.val_fraction must be between 0 and 1"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_clear_line_and_exit_2(case, tiny_args, bad_files, tmp_path):
    overrides, message = CASES[case]
    result = run_cli("train.py", *tiny_args, *(o.format(files=bad_files) for o in overrides))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert re.search(message, line), line
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [("learning_rate=1", "Could not override 'learning_rate'"), ("data=nope", "Could not find 'data/nope'")],
)
def test_unknown_key_or_group_is_refused_by_hydra(override, message, tiny_args):
    result = run_cli("train.py", *tiny_args, override)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_eval_without_a_model_says_which_key_to_set(tiny_args):
    result = run_cli("eval.py", *tiny_args)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: nothing to evaluate: pass ckpt_path=PATH (a checkpoint) or artifact_dir=PATH (an export)"
    ]


def test_eval_refuses_a_file_that_is_not_a_checkpoint(tiny_args, bad_files):
    result = run_cli("eval.py", *tiny_args, f"ckpt_path={bad_files / 'ok.csv'}")
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert "is not a readable Lightning checkpoint" in line
