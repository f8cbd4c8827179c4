"""export.py task=generation: a tiny Llama → ONNX Runtime GenAI artifact, checked against PyTorch, atomically."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from nlpops.errors import UserError
from nlpops.export import generation
from nlpops.export.generation import check_int8
from nlpops.export.parity import ParityError
from nlpops.export.stage import export
from nlpops.serving.artifact import read_manifest
from nlpops.serving.genai import GenerativeModel, Sampling
from tests.export.test_export_cli import REPO_ROOT, compose_export
from tests.generation_helpers import save_tiny_causal_lm, write_corpus


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "play.txt")


def overrides(model_dir: Path, corpus: Path, artifact_dir: Path) -> list[str]:
    return [
        "task=generation",
        f"model_dir={model_dir}",
        f"artifact_dir={artifact_dir}",
        f"data.source={corpus}",
        "data.block_size=64",
        "parity.greedy_prompts=3",
        "parity.max_blocks=8",
        "extras.print_config=false",
    ]


def test_the_task_picks_the_genai_export_and_the_encoder_tasks_keep_theirs() -> None:
    cfg = compose_export("task=generation")
    assert cfg.model_dir.endswith("models/generator") and cfg.artifact_dir.endswith("models/generator-onnx")
    assert cfg.precision == "int8" and cfg.int8_lm_head == "auto" and cfg.context_length == 2048
    assert cfg.parity.new_tokens == 32
    assert cfg.parity.fp32_logit_atol == 1e-3 and cfg.parity.min_int8_top1_agreement == 0.95
    assert cfg.parity.max_int8_perplexity_increase == 0.05
    assert "opset" not in cfg and "quantize" not in cfg
    for task in ("classification", "ner"):
        cfg = compose_export(f"task={task}")
        assert cfg.opset == 18 and cfg.quantize is True and "precision" not in cfg


def test_the_cli_writes_a_checked_int8_artifact_that_generates(tiny_lm: Path, corpus: Path, tmp_path: Path) -> None:
    artifact = tmp_path / "generator-onnx"
    result = subprocess.run(
        [sys.executable, "export.py", *overrides(tiny_lm, corpus, artifact), f"paths.log_dir={tmp_path / 'logs'}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = read_manifest(artifact)
    assert manifest.task == "text-generation" and manifest.labels == [] and manifest.models == {"int8": "model.onnx"}
    assert manifest.max_length == 256  # context_length 2048, capped at the model's positions
    assert manifest.opset >= 17 and manifest.pad_token_id == 2
    files = {"model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json", "tokenizer_config.json"}
    assert set(manifest.checksums) == files
    assert json.loads((artifact / "genai_config.json").read_text())["search"]["max_length"] == 256
    parity = manifest.metrics["parity"]
    assert manifest.metrics["precision"] == "int8" and parity["greedy_identical"] == parity["greedy_prompts"] == 3
    assert parity["fp32_max_abs_logit_diff"] <= 1e-3 and parity["int8_top1_agreement"] >= 0.95
    assert parity["int8_perplexity_increase"] <= 0.05 and parity["val_blocks"] <= 8
    assert manifest.source["builder"]["precision"] == "int8" and manifest.source["int8"]["lm_head"] == "int8"
    assert "text-generation" in (artifact / "README.md").read_text()
    model = GenerativeModel.load(artifact, "int8")
    completion = model.complete("HAMLET.", Sampling(max_new_tokens=8))
    assert completion.tokens == 8 or completion.finish_reason == "stop"


def test_fp32_is_written_alone_and_its_figures_returned(tiny_lm: Path, corpus: Path, tmp_path: Path) -> None:
    cfg = compose_export(*overrides(tiny_lm, corpus, tmp_path / "onnx"), "precision=fp32", "context_length=128")
    metrics = export(cfg)
    assert set(metrics) == {"parity/fp32_max_abs_logit_diff", "val/perplexity_fp32"}
    manifest = read_manifest(tmp_path / "onnx")
    assert manifest.models == {"fp32": "model.onnx"} and manifest.max_length == 128
    assert manifest.metrics["precision"] == "fp32" and "int8_top1_agreement" not in manifest.metrics["parity"]
    with pytest.raises(UserError, match="no 'int8' model"):
        GenerativeModel.load(tmp_path / "onnx", "int8")


def test_auto_keeps_the_lm_head_in_fp32_where_an_int8_head_fails(
    tiny_lm: Path, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = []

    def failing_first(*args: object) -> dict[str, float]:
        checks.append(args)
        if len(checks) == 1:
            raise ParityError("INT8 picks fp32's next token at only 94.00% of the validation positions")
        return check_int8(*args)

    monkeypatch.setattr(generation, "check_int8", failing_first)
    metrics = export(compose_export(*overrides(tiny_lm, corpus, tmp_path / "onnx")))
    assert len(checks) == 2 and metrics["parity/int8_top1_agreement"] >= 0.95
    assert read_manifest(tmp_path / "onnx").source["int8"]["lm_head"] == "fp32"
    graph = onnx.load(str(tmp_path / "onnx/model.onnx"), load_external_data=False).graph
    assert {node.op_type for node in graph.node if node.name == "/lm_head/MatMul"} == {"MatMul"}  # not MatMulNBits


def test_a_failed_check_leaves_the_previous_artifact_untouched(tiny_lm: Path, corpus: Path, tmp_path: Path) -> None:
    previous = tmp_path / "onnx"
    previous.mkdir()
    (previous / "manifest.json").write_text("the previous artifact")
    cfg = compose_export(*overrides(tiny_lm, corpus, previous), "parity.fp32_logit_atol=1e-12")
    with pytest.raises(ParityError, match=r"differ from PyTorch's by up to .* parity.fp32_logit_atol=1e-12"):
        export(cfg)
    assert [path.name for path in tmp_path.iterdir()] == ["onnx"]  # no scratch folder left behind
    assert [path.name for path in previous.iterdir()] == ["manifest.json"]
    assert (previous / "manifest.json").read_text() == "the previous artifact"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("precision=int4", r"precision must be int8 or fp32, got 'int4' \(int4 lost too much"),
        ("int8_lm_head=int4", "int8_lm_head must be auto, int8 or fp32, got 'int4'"),
        ("context_length=0", "context_length must be a positive integer, got 0"),
        ("parity.new_tokens=0", "parity.new_tokens must be a positive integer, got 0"),
        ("parity.max_blocks=0", "parity.max_blocks must be a positive integer, got 0"),
        ("parity.min_int8_top1_agreement=95", "parity.min_int8_top1_agreement is a share from 0 to 1, got 95"),
        ("parity.fp32_logit_atol=0", "parity.fp32_logit_atol must be more than 0"),
        ("parity.prompt_tokens=64", "parity.prompt_tokens=64 must be less than the data's block size, 64 tokens"),
    ],
)
def test_bad_settings_fail_before_any_build(
    tiny_lm: Path, corpus: Path, tmp_path: Path, override: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        export(compose_export(*overrides(tiny_lm, corpus, tmp_path / "onnx"), override))
    assert not (tmp_path / "onnx").exists()
