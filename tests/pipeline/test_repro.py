"""`dvc repro` of the tiny pipeline: every stage once, then nothing, then only what a change reaches."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.workspace import dvc, git, make_workspace, stages_run


def test_first_repro_runs_every_stage_and_writes_metrics(reproduced):
    root, reports = reproduced
    metrics = json.loads(reports["reports/evaluate.json"])
    assert set(metrics) >= {"test/acc", "test/f1", "test/fresh/f1", "test/rotten/f1"}
    assert json.loads(reports["reports/train.json"])["test/acc"] == pytest.approx(metrics["test/acc"], abs=0.05)
    header, *epochs = reports["reports/history.csv"].splitlines()
    assert header == "epoch,step,train/loss_epoch,val/loss,train/acc,val/acc,val/f1" and len(epochs) == 2
    predictions = reports["reports/test_predictions.csv"].splitlines()
    assert predictions[0] == "actual,predicted" and len(predictions) == 1 + 24  # 10% of 240 reviews
    shown = json.loads(dvc(root, "metrics", "show", "--json").stdout)
    assert shown[""]["data"]["reports/evaluate.json"]["data"]["test/acc"] == metrics["test/acc"]


def test_second_repro_runs_nothing(reproduced):
    root, _ = reproduced
    result = dvc(root, "repro")
    assert stages_run(result.stdout) == []
    assert dvc(root, "status").stdout.strip() == "Data and pipelines are up to date."


def test_prepared_data_keeps_the_split_training_used(reproduced):
    root, _ = reproduced
    rows = [json.loads(line) for line in (root / "data/prepared/reviews.jsonl").read_text().splitlines()]
    assert {row["split"] for row in rows} == {"train", "val", "test"}
    assert sum(row["split"] == "test" for row in rows) == 24
    record = json.loads((root / "models/text-classifier/manifest.json").read_text())
    assert record["data"]["examples"] == {"train": 192, "val": 24, "test": 24}


def test_model_manifest_is_a_complete_registry_record(reproduced):
    root, reports = reproduced
    record = json.loads((root / "models/text-classifier/manifest.json").read_text())
    head = git(root, "rev-parse", "HEAD").stdout.strip()
    assert record["task"] == "text-classification"
    assert record["labels"] == ["fresh", "rotten"]
    assert len(record["data"]["sha256"]) == 64 and record["data"]["source"] == "./data/prepared/reviews.jsonl"
    assert record["git_commit"].startswith(head)
    assert record["config"]["trainer"]["max_epochs"] == 2 and record["config"]["data"]["split_column"] == "split"
    assert record["metrics"]["test/acc"] == json.loads(reports["reports/train.json"])["test/acc"]
    assert record["created_at"] and record["versions"]["torch"]
    artifact = json.loads((root / "models/text-classifier-onnx/manifest.json").read_text())
    assert artifact["source"]["training"] == record


def test_changing_a_training_parameter_reruns_only_what_follows_training(reproduced):
    root, _ = reproduced
    result = dvc(root, "exp", "run", "-S", "trainer.max_epochs=1")  # DVC composes the Hydra config
    assert stages_run(result.stdout) == ["train", "export", "evaluate"]
    assert "Stage 'prepare' didn't change, skipping" in result.stdout
    assert "max_epochs: 1" in (root / "params.yaml").read_text()
    assert len((root / "reports/history.csv").read_text().splitlines()) == 1 + 1


def test_two_fresh_repros_give_identical_metrics(reproduced, tiny_pretrained, tmp_path):
    _, first = reproduced
    root = make_workspace(tmp_path, tiny_pretrained)
    dvc(root, "repro")
    for name in ("reports/train.json", "reports/evaluate.json", "reports/history.csv"):
        assert (root / name).read_text() == first[name], name
