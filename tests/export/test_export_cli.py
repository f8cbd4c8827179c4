"""export.py through Hydra: the composed config, the task on toy data, and the CLI's one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import nlpops.utils.resolvers  # noqa: F401
from nlpops.errors import UserError
from nlpops.export.stage import export
from nlpops.serving.artifact import read_manifest
from nlpops.serving.classification import SERVING
from nlpops.serving.core import OnnxModel

REPO_ROOT = Path(__file__).resolve().parents[2]


def toy_overrides(model_dir: Path, toy_csv: Path, artifact_dir: Path) -> list[str]:
    return [
        f"model_dir={model_dir}",
        f"artifact_dir={artifact_dir}",
        "data=text_classification",
        f"data.source={toy_csv}",
        "data.text_column=review",
        "data.label_column=sentiment",
        "data.max_length=32",
        "extras.print_config=false",
    ]


def compose_export(*overrides: str) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(REPO_ROOT / "configs"), version_base="1.3"):
        cfg = compose("export", overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):  # what @hydra.main fills in at run time
        cfg.hydra.runtime.output_dir = "/tmp/nlpops-test-export"
        cfg.hydra.runtime.cwd = str(REPO_ROOT)
    HydraConfig.instance().set_config(cfg)
    return cfg


def test_the_default_config_reads_the_trained_model_and_writes_next_to_it() -> None:
    cfg = compose_export()
    assert cfg.model_dir == str(REPO_ROOT / "models/text-classifier")
    assert cfg.artifact_dir == str(REPO_ROOT / "models/text-classifier-onnx")
    assert cfg.data.tokenizer == cfg.model_dir  # the split is tokenized by the exported model's tokenizer
    assert cfg.max_length == cfg.data.max_length  # serving truncates like training
    assert cfg.parity.fp32_atol == 1e-4 and cfg.parity.min_int8_agreement == 0.99


def test_the_task_exports_fp32_only_when_asked(tiny_classifier: Path, toy_csv: Path, tmp_path: Path) -> None:
    cfg = compose_export(*toy_overrides(tiny_classifier, toy_csv, tmp_path / "onnx"), "quantize=false")
    metrics = export(cfg)
    assert metrics["parity/fp32_max_abs_logit_diff"] <= 1e-4
    assert set(metrics) == {"test/accuracy_pytorch", "test/accuracy_fp32", "parity/fp32_max_abs_logit_diff"}
    manifest = read_manifest(tmp_path / "onnx")
    assert manifest.models == {"fp32": "model.onnx"}
    assert manifest.metrics["parity"]["sentences"] == {"val": 24, "test": 24}  # the DataModule's 10% splits
    assert SERVING.predict(OnnxModel.load(tmp_path / "onnx", "fp32"), ["a witty film"])
    with pytest.raises(UserError, match="no 'int8' model"):
        OnnxModel.load(tmp_path / "onnx", "int8")


def test_optimize_false_writes_a_standard_onnx_graph(tiny_classifier: Path, toy_csv: Path, tmp_path: Path) -> None:
    overrides = toy_overrides(tiny_classifier, toy_csv, tmp_path / "onnx")
    metrics = export(compose_export(*overrides, "quantize=false", "optimize=false"))
    assert metrics["parity/fp32_max_abs_logit_diff"] <= 1e-4
    nodes = onnx.load(str(tmp_path / "onnx/model.onnx")).graph.node
    assert {node.domain for node in nodes} <= {"", "ai.onnx"}  # no ONNX Runtime contrib ops
    assert "LayerNormalization" in {node.op_type for node in nodes}
    assert "graph_rewrites" not in read_manifest(tmp_path / "onnx").source


def test_outlier_split_calibrates_on_training_sentences(tiny_classifier: Path, toy_csv: Path, tmp_path: Path) -> None:
    overrides = toy_overrides(tiny_classifier, toy_csv, tmp_path / "onnx")
    metrics = export(compose_export(*overrides, "int8_method=outlier-split", "calibration_sentences=50"))
    assert min(metrics["parity/int8_agreement_val"], metrics["parity/int8_agreement_test"]) >= 0.99
    int8 = read_manifest(tmp_path / "onnx").source["int8"]
    assert int8["method"] == "outlier-split" and int8["outlier_split"]["calibration_inputs"] == 50
    for bad in ("0", "true"):  # refused before the data loads
        with pytest.raises(UserError, match=f"calibration_sentences must be a positive integer, got {bad.title()}"):
            export(compose_export(*overrides, "int8_method=outlier-split", f"calibration_sentences={bad}"))


def test_a_mix_keeps_its_sensitive_matmuls_in_the_configured_form(
    tiny_classifier: Path, toy_csv: Path, tmp_path: Path
) -> None:
    overrides = toy_overrides(tiny_classifier, toy_csv, tmp_path / "onnx")
    export(compose_export(*overrides, "int8_method=mixed-1", "sensitive_matmuls=fp32", "calibration_sentences=50"))
    int8 = read_manifest(tmp_path / "onnx").source["int8"]
    assert int8["sensitive_matmuls"] == "fp32" and int8["fp32_matmuls"] == 6 and int8["blockwise_matmuls"] == 0
    assert int8["outlier_split"]["calibration_inputs"] == 50  # mixed-N splits the rest's outliers
    assert SERVING.predict(OnnxModel.load(tmp_path / "onnx", "int8"), ["a witty film"])
    with pytest.raises(UserError, match="sensitive_matmuls must be auto, split, blockwise or fp32, got 'int4'"):
        export(compose_export(*overrides, "sensitive_matmuls=int4"))


def test_the_cli_fails_with_one_error_line_and_exit_2(toy_csv: Path, tmp_path: Path) -> None:
    overrides = toy_overrides(tmp_path / "no-model", toy_csv, tmp_path / "onnx")
    result = subprocess.run(
        [sys.executable, "export.py", *overrides, f"paths.log_dir={tmp_path / 'logs'}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "run `python train.py` first" in errors[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "onnx").exists()


def test_the_help_describes_export_and_writes_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "export.py", "--help", f"paths.root_dir={tmp_path}"],  # every default path under tmp_path
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    header = result.stdout.split("== Config ==")[0]
    assert header.startswith("export.py: the model train.py saved") and "ONNX fp32 and INT8" in header
    assert "python export.py optimize=false" in header and "int8_method" in header
    assert "python train.py" not in result.stdout
    for train_only in ("trainer", "callbacks", "hparams_search"):
        assert train_only not in result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimize=no", "optimize must be bool, got 'no'"),  # a string, and every string is truthy
        ("quantize=1", "quantize must be bool, got 1"),
        ("opset=latest", "opset must be int, got 'latest'"),
        ("max_length=64.5", "max_length must be int, got 64.5"),
        ("parity.min_int8_agreement=high", "parity.min_int8_agreement must be float, got 'high'"),
        ("parity.max_sentences=0", "parity.max_sentences must be a positive integer, got 0"),
        ("calibration_sentences=many", "calibration_sentences must be a positive integer"),
        ("parity.min_int8_agreement=99", r"parity.min_int8_agreement is a share from 0 to 1, got 99"),  # a percent
        ("parity.fp32_atol=0", "parity.fp32_atol must be more than 0"),
        ("parity.max_int8_accuracy_drop_points=-0.5", "parity.max_int8_accuracy_drop_points must be 0 or more"),
    ],
)
def test_bad_config_values_are_refused_before_any_work(
    toy_csv: Path, tmp_path: Path, override: str, message: str
) -> None:
    cfg = compose_export(*toy_overrides(tmp_path / "no-model", toy_csv, tmp_path / "onnx"), override)
    with pytest.raises(UserError, match=message):  # not "run `python train.py` first": values are checked first
        export(cfg)


@pytest.mark.parametrize(
    ("task", "threshold", "points"), [("classification", "accuracy", 0.5), ("ner", "f1", 1.0)], ids=["cls", "ner"]
)
def test_each_task_names_how_many_points_of_its_metric_int8_may_lose(task: str, threshold: str, points: float) -> None:
    from nlpops.export.rule import export_rule
    from nlpops.export.stage import parity_thresholds

    cfg = compose_export(f"task={task}")
    rule = export_rule(cfg.task_name)
    assert rule.metric == threshold
    assert parity_thresholds(cfg.parity, rule).max_int8_drop_points == points
    with pytest.raises(UserError, match=rf"parity.max_int8_{threshold}_drop_points must be 0 or more"):
        parity_thresholds(compose_export(f"task={task}", f"parity.max_int8_{threshold}_drop_points=-1").parity, rule)
