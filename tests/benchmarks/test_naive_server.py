"""The naive baseline server's bad settings: one line and exit 2, as ``python -m nlpops.serving``, before serving."""

from __future__ import annotations

from pathlib import Path

from tests.cli import cli_env, run_cli

SCRIPT = "benchmarks/naive_server.py"


def test_a_missing_model_dir_is_named_not_taken_for_a_hub_id(tmp_path: Path) -> None:
    result = run_cli(SCRIPT, "--engine", "pytorch", "--model-dir", str(tmp_path / "none"))

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: no trained model at {tmp_path / 'none'} (config.json missing): "
        "run `python train.py` first or pass --model-dir a model folder train.py saved"
    )


def test_a_bad_setting_exits_2_like_the_api_server() -> None:
    result = run_cli(SCRIPT, "--engine", "onnx-int8", env=cli_env(NLPOPS_PORT="abc"))

    assert result.returncode == 2
    assert result.stderr.startswith("error: environment variable NLPOPS_PORT='abc' is invalid")
    assert "Traceback" not in result.stderr
