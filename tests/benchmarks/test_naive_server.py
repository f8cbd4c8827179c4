"""The naive baseline server: bad settings are one line and exit 2, as for ``python -m nlpops.serving``, before
serving; its NER engines group entities as transformers' pipeline does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from benchmarks import naive_server
from tests.cli import cli_env, run_cli
from tests.ner_artifacts import NER_MAX_LENGTH, ner_sentences

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


def test_a_missing_ner_artifact_is_one_error_line(tmp_path: Path) -> None:
    env = cli_env(NLPOPS_ARTIFACT_DIR=str(tmp_path))
    result = run_cli(SCRIPT, "--task", "token-classification", "--engine", "onnx-int8", env=env)

    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "manifest.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_word_pieces_group_as_the_pipelines_simple_strategy() -> None:
    text = "Maria Lopez of Osaka met Lisbon Ana"
    pieces = [
        ("B-person", 0.9, 0, 5),
        ("I-person", 0.7, 6, 11),  # continues the person
        ("O", 0.99, 12, 14),
        ("I-place", 0.6, 15, 20),  # an I- after O starts an entity, as in the pipeline
        ("O", 0.8, 21, 24),
        ("B-place", 0.5, 25, 31),
        ("B-place", 0.4, 32, 35),  # a B- always starts another
    ]
    found = naive_server.simple_entities(text, pieces)
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in found] == [
        ("person", "Maria Lopez", 0, 11),
        ("place", "Osaka", 15, 20),
        ("place", "Lisbon", 25, 31),
        ("place", "Ana", 32, 35),
    ]
    assert [e["score"] for e in found] == pytest.approx([0.8, 0.6, 0.5, 0.4])


def test_the_onnx_tagger_finds_what_the_transformers_pipeline_finds(
    tiny_tagger: Path, tiny_ner_artifact: Path, tmp_path: Path
) -> None:
    """On the fp32 model (the same numbers as PyTorch) and texts within its max length (the pipeline does not cut
    them): only the grouping is compared, not INT8's rounding."""
    fp32 = tmp_path / "fp32"
    shutil.copytree(tiny_ner_artifact, fp32)
    manifest = json.loads((fp32 / "manifest.json").read_text())
    (fp32 / "manifest.json").write_text(json.dumps(manifest | {"models": {"int8": manifest["models"]["fp32"]}}))
    onnx, pytorch = naive_server.onnx_tagger(fp32), naive_server.pytorch_tagger(tiny_tagger)
    tokenizer = AutoTokenizer.from_pretrained(tiny_tagger)
    texts = [" ".join(tokens) for tokens, _ in ner_sentences(40, seed=7)] + ["Mária LOPEZ flew to new york 🎬 !"]
    texts = [text for text in texts if len(tokenizer(text)["input_ids"]) <= NER_MAX_LENGTH]
    assert len(texts) >= 10
    for text in texts:
        expected = pytorch(text)["entities"]
        assert expected, text
        found = onnx(text)["entities"]
        assert [{**e, "score": pytest.approx(e["score"], abs=1e-4)} for e in expected] == found, text
