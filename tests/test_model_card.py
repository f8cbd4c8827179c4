"""Model cards: Hub-valid metadata and the manifest's figures, written beside every saved model and artifact."""

from __future__ import annotations

import copy
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from nlpops.model_card import CARD, card_text, main
from nlpops.model_record import write_record
from nlpops.serving.artifact import check_artifact, read_manifest
from tests.cli import REPO_ROOT, cli_env

NER_TYPES = ["company", "geo-loc", "person"]
NER_LABELS = ["O", *(f"{prefix}-{kind}" for kind in NER_TYPES for prefix in "BI")]


def training(task: str, labels: list[str], source: str, metrics: dict[str, float]) -> dict[str, Any]:
    """A training record shaped as ``nlpops.model_record.training_record`` writes one."""
    return {
        "task": task,
        "labels": labels,
        "data": {"source": source, "sha256": "9bfd" * 16, "examples": {"test": 231, "train": 1833, "val": 231}},
        "metrics": metrics,
        "git_commit": "bdfb2f7608fb4ba372e35e7bf639dcd2e2e20917",
        "created_at": "2026-12-06T10:59:49+00:00",
        "versions": {"lightning": "2.6.6", "torch": "2.13.0+cpu", "transformers": "5.23.0"},
        "config": {
            "task_name": task,
            "seed": 42,
            "model_dir": "/work/models/some-model",
            "monitor": {"metric": "val/f1", "mode": "max"},
            "data": {"source": source, "batch_size": 16, "max_length": 96},
            "model": {"pretrained": "asset:all-minilm-l6-v2", "optimizer": {"lr": 1e-4}, "weight_decay": 0.01},
            "trainer": {"max_epochs": 3},
        },
    }


def classification_record() -> dict[str, Any]:
    per_class = {f"test/{label}/{metric}": 0.8 for label in ("negative", "positive") for metric in ("f1", "recall")}
    metrics = {"test/acc": 0.8478, "test/f1": 0.8448, "test/loss": 0.354, "val/acc": 0.818, "val/acc_best": 0.8188}
    return training(
        "text-classification",
        ["negative", "positive"],
        "asset:rotten-tomatoes",
        metrics | per_class | {"lr-AdamW": 1e-6},
    )


def ner_record() -> dict[str, Any]:
    per_type = {f"test/{kind}/f1": 0.5 for kind in NER_TYPES}
    metrics = {"test/f1": 0.461, "test/precision": 0.474, "test/recall": 0.448, "val/f1": 0.52, "train/loss": 0.137}
    return training("token-classification", NER_LABELS, "asset:ner-tweets", metrics | per_type)


def ner_artifact_manifest() -> dict[str, Any]:
    """An artifact manifest shaped as ``export.py`` writes one (see models/ner-onnx/manifest.json)."""
    return {
        "task": "token-classification",
        "labels": NER_LABELS,
        "max_length": 96,
        "opset": 18,
        "models": {"fp32": "model.onnx", "int8": "model.int8.onnx"},
        "pad_token_id": 0,
        "checksums": {"model.onnx": "dd4e" * 16, "tokenizer.json": "d542" * 16},
        "format_version": 1,
        "metrics": {
            "parity": {"fp32_max_abs_logit_diff": 8.8e-06, "int8_agreement": {"test": 0.9955, "val": 0.9949}},
            "test": {"f1": {"fp32": 0.4610, "int8": 0.4604, "pytorch": 0.4610}, "int8_f1_drop_points": 0.056},
        },
        "source": {"int8": {"method": "dynamic"}, "exported_at": "2026-12-06T11:03:19+00:00", "training": ner_record()},
    }


def front_matter(card: str) -> dict[str, Any]:
    _, header, _ = card.split("---\n", 2)
    return yaml.safe_load(header)


def results(metadata: dict[str, Any]) -> dict[str, float]:
    """The model-index's metric values by name (``test f1``, ``test f1 (ONNX INT8)``, ...)."""
    (index,) = metadata["model-index"]
    return {metric["name"]: metric["value"] for result in index["results"] for metric in result["metrics"]}


def test_a_classifier_card_has_hub_metadata_and_every_figure_of_its_record() -> None:
    record = classification_record()
    card = card_text(record, "text-classifier")
    metadata = front_matter(card)
    assert metadata["pipeline_tag"] == "text-classification"
    assert metadata["language"] == "en"
    assert metadata["license"] == "apache-2.0"  # the pinned backbone's
    assert metadata["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert metadata["library_name"] == "transformers"
    assert "datasets" not in metadata  # a packaged asset has no Hub dataset id to link
    assert metadata["model-index"][0]["name"] == "text-classifier"
    assert results(metadata) == {"test acc": 0.8478, "test f1": 0.8448, "val acc": 0.818}
    assert {r["metrics"][0]["type"] for r in metadata["model-index"][0]["results"]} == {"accuracy"}
    assert "| negative | 0.8 | 0.8 |" in card and "| positive | 0.8 | 0.8 |" in card  # per class, test split
    assert "| metric | val | test |" in card and "| acc | 0.818 | 0.8478 |" in card  # by split
    assert "train 1,833, val 231, test 231" in card and record["data"]["sha256"] in card
    assert "`POST /predict`" in card and "python export.py task=classification" in card
    assert "`AutoModelForSequenceClassification.from_pretrained(<this folder>)`" in card
    for section in ("Intended use", "Data", "Training", "Evaluation", "Limitations"):
        assert f"\n## {section}\n" in card
    assert "## Export" not in card


def test_a_ner_artifact_card_adds_the_onnx_figures_and_per_type_rows() -> None:
    manifest = ner_artifact_manifest()
    card = card_text(manifest, "ner-onnx")
    metadata = front_matter(card)
    assert metadata["pipeline_tag"] == "token-classification"
    assert "onnx" in metadata["tags"] and "library_name" not in metadata
    assert results(metadata) == {
        "test f1": 0.461,
        "test precision": 0.474,
        "test recall": 0.448,
        "val f1": 0.52,
        "test f1 (ONNX fp32)": 0.4610,
        "test f1 (ONNX INT8)": 0.4604,
    }
    for kind in NER_TYPES:
        assert f"| {kind} | 0.5 |" in card
    assert "| ONNX INT8 | 0.4604 |" in card and "INT8 method: `dynamic`" in card
    assert "`POST /ner`" in card and "## Export (ONNX)" in card


def test_card_settings_in_the_config_win_and_a_hub_dataset_is_listed() -> None:
    record = ner_record()
    record["config"]["data"]["source"] = "hub:tner/wnut2017"
    record["config"]["card"] = {"license": "mit", "language": "de"}
    metadata = front_matter(card_text(record, "ner"))
    assert (metadata["license"], metadata["language"], metadata["datasets"]) == ("mit", "de", ["tner/wnut2017"])


def test_saving_a_record_writes_its_card_named_after_the_model_folder(tiny_tagger: Path, tmp_path: Path) -> None:
    scratch = Path(shutil.copytree(tiny_tagger, tmp_path / ".ner.scratch"))  # as train.py's atomic_directory
    record = ner_record()
    record["config"]["model_dir"] = str(tmp_path / "ner")
    write_record(scratch, record)
    card = (scratch / CARD).read_text()
    assert card.startswith("---\n") and "\n# ner\n" in card
    assert front_matter(card)["model-index"][0]["name"] == "ner"


def test_an_exported_artifact_has_a_card_outside_its_checksums(tiny_ner_artifact: Path) -> None:
    """The card is written after the last manifest: serving's checks neither need it nor see it change."""
    card = (tiny_ner_artifact / CARD).read_text()
    assert front_matter(card)["pipeline_tag"] == "token-classification"
    assert "No training record" in card  # the tiny tagger was saved without one
    manifest = read_manifest(tiny_ner_artifact)
    assert CARD not in manifest.checksums
    assert f"| ONNX INT8 | {manifest.metrics['test']['f1']['int8']:.4g} |" in card
    check_artifact(tiny_ner_artifact, "int8")


def test_write_regenerates_a_card_and_names_a_folder_without_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ner-onnx"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(ner_artifact_manifest()))
    assert main(["write", str(folder)]) == 0
    assert (folder / CARD).read_text() == card_text(ner_artifact_manifest(), "ner-onnx")
    assert main(["write", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot read the manifest {tmp_path / 'manifest.json'}")


def push(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m nlpops.model_card push`` in a fresh process: huggingface_hub reads its settings on import."""
    inherited = {key: value for key, value in cli_env().items() if key not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    return subprocess.run(
        [sys.executable, "-m", "nlpops.model_card", "push", str(folder), "--repo-id", "someone/ner"],
        cwd=REPO_ROOT,
        env=inherited | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "ner"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(copy.deepcopy(ner_record())))
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "error: no Hugging Face token: run `hf auth login`"),
        ({"HF_TOKEN": "hf_test", "HF_HUB_OFFLINE": "1"}, "error: HF_HUB_OFFLINE is set"),
        ({"HF_TOKEN": "hf_test", "HF_ENDPOINT": "http://127.0.0.1:{port}"}, "error: cannot reach the Hugging Face Hub"),
    ],
    ids=["no-token", "offline", "unreachable"],
)
def test_push_fails_in_one_line_without_a_token_or_a_hub(
    model_folder: Path, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    env = {key: value.format(port=free_port()) for key, value in env.items()}
    result = push(model_folder, HF_HOME=str(tmp_path / "hf-home"), **env)  # an empty login cache
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
