"""The training benchmark on the tiny model: overrides reach every setting, bad ones are refused up front."""

from __future__ import annotations

import re

import pytest

from tests.cli import run_cli

SCRIPT = "benchmarks/train_throughput.py"


def test_times_the_chosen_setting_under_the_given_overrides(tiny_args: list[str]) -> None:
    result = run_cli(SCRIPT, "--steps", "2", "--warmup", "1", "--only", "fp32, length-grouped", *tiny_args)

    assert result.returncode == 0, result.stderr
    assert "data.source=" in result.stdout  # the overrides line names what was measured
    rows = re.findall(r"^\| (.+) \| ([\d.]+) \|$", result.stdout, flags=re.MULTILINE)
    assert [name for name, _ in rows] == ["fp32, length-grouped"]
    assert float(rows[0][1]) > 0


@pytest.mark.parametrize(
    ("override", "code", "message"),
    [
        ("trainer=nope", 2, "bad override: In 'train': Could not find 'trainer/nope'"),
        ("trainer.bogus=1", 2, "bad override: Could not override 'trainer.bogus'"),
        ("data.batch_size=0", 2, "error: data.batch_size must be a positive integer, got 0"),
    ],
)
def test_bad_overrides_get_one_clear_line(tiny_args: list[str], override: str, code: int, message: str) -> None:
    result = run_cli(SCRIPT, "--steps", "1", *tiny_args, override)

    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1 (got 0)"),  # was a 0.0 figure
        (["--steps", "-2"], "--steps must be at least 1 (got -2)"),  # was max_steps=-1: no limit
        (["--warmup", "-1"], "--warmup must be 0 or more (got -1)"),  # the timer never started
    ],
)
def test_bad_step_counts_are_refused_before_anything_is_built(options: list[str], message: str) -> None:
    result = run_cli(SCRIPT, *options)

    assert result.returncode == 2
    assert f"error: {message}" in result.stderr
    assert "Traceback" not in result.stderr
