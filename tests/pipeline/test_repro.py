"""`dvc repro` of the tiny pipeline: every branch's stages once, then nothing, then only what a change reaches."""

from __future__ import annotations

import json
import sys

import pytest

from tests.pipeline.workspace import dvc, git, make_workspace, run, stages_run

CLASSIFICATION, NER = "reports/classification", "reports/ner"


def test_first_repro_runs_every_stage_and_writes_metrics(reproduced):
    root, reports = reproduced
    metrics = json.loads(reports[f"{CLASSIFICATION}/evaluate.json"])
    assert set(metrics) >= {"test/acc", "test/f1", "test/negative/f1", "test/positive/f1"}
    trained = json.loads(reports[f"{CLASSIFICATION}/train.json"])
    assert trained["test/acc"] == pytest.approx(metrics["test/acc"], abs=0.05)
    header, *epochs = reports[f"{CLASSIFICATION}/history.csv"].splitlines()
    assert header == "epoch,step,train/loss_epoch,val/loss,train/acc,val/acc,val/f1" and len(epochs) == 2
    predictions = reports[f"{CLASSIFICATION}/test_predictions.csv"].splitlines()
    assert predictions[0] == "actual,predicted" and len(predictions) == 1 + 24  # 10% of 240 reviews
    shown = json.loads(dvc(root, "metrics", "show", "--json").stdout)[""]["data"]
    assert shown[f"{CLASSIFICATION}/evaluate.json"]["data"]["test/acc"] == metrics["test/acc"]
    assert shown[f"{NER}/evaluate.json"]["data"]["test/f1"] == json.loads(reports[f"{NER}/evaluate.json"])["test/f1"]


def test_the_ner_branch_versions_its_own_data_model_and_metrics(reproduced):
    root, reports = reproduced
    metrics = json.loads(reports[f"{NER}/evaluate.json"])
    assert set(metrics) >= {"test/f1", "test/precision", "test/recall", "test/person/f1", "test/place/f1"}
    trained = json.loads(reports[f"{NER}/train.json"])
    assert trained["test/f1"] == pytest.approx(metrics["test/f1"], abs=0.05)
    header, *epochs = reports[f"{NER}/history.csv"].splitlines()
    assert header == "epoch,step,train/loss_epoch,val/loss,val/precision,val/recall,val/f1,val/token_acc"
    assert len(epochs) == 2
    predictions = reports[f"{NER}/test_predictions.csv"].splitlines()
    assert predictions[0] == "text,actual,predicted" and len(predictions) == 1 + 20  # 10% of 200 sentences
    rows = [json.loads(line) for line in (root / "data/prepared/ner.jsonl").read_text().splitlines()]
    assert len(rows) == 200 and {row["split"] for row in rows} == {"train", "val", "test"}
    assert all(len(row["tokens"]) == len(row["tags"]) for row in rows)
    record = json.loads((root / "models/ner/manifest.json").read_text())
    assert record["task"] == "token-classification" and record["data"]["source"] == "./data/prepared/ner.jsonl"
    assert {"test/person/f1", "test/place/f1"} <= set(record["metrics"])  # per type, from training's test too
    assert json.loads((root / "models/ner-onnx/manifest.json").read_text())["source"]["training"] == record


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
    assert record["labels"] == ["negative", "positive"]  # the raw fresh/rotten, through data.label_map
    assert len(record["data"]["sha256"]) == 64 and record["data"]["source"] == "./data/prepared/reviews.jsonl"
    assert record["git_commit"].startswith(head)
    assert record["config"]["trainer"]["max_epochs"] == 2 and record["config"]["data"]["split_column"] == "split"
    assert record["metrics"]["test/acc"] == json.loads(reports[f"{CLASSIFICATION}/train.json"])["test/acc"]
    assert record["created_at"] and record["versions"]["torch"]
    artifact = json.loads((root / "models/text-classifier-onnx/manifest.json").read_text())
    assert artifact["source"]["training"] == record


def test_changing_a_training_parameter_reruns_only_what_follows_training_in_that_branch(reproduced):
    root, _ = reproduced
    result = dvc(root, "exp", "run", "-S", "trainer.max_epochs=1")  # DVC composes the Hydra config
    assert stages_run(result.stdout) == ["train@classification", "export@classification", "evaluate@classification"]
    assert "Stage 'prepare@classification' didn't change, skipping" in result.stdout
    assert "Stage 'train@ner' didn't change, skipping" in result.stdout
    assert "max_epochs: 1" in (root / "params.yaml").read_text()
    assert len((root / f"{CLASSIFICATION}/history.csv").read_text().splitlines()) == 1 + 1
    run(root, sys.executable, "-m", "nlpops.utils.dvc_params", "--file", "params_ner.yaml", "trainer.max_epochs=1")
    assert "max_epochs: 1" in (root / "params.yaml").read_text()  # the other branch's file kept its value
    result = dvc(root, "repro")
    assert stages_run(result.stdout) == ["train@ner", "export@ner", "evaluate@ner"]
    assert len((root / f"{NER}/history.csv").read_text().splitlines()) == 1 + 1


def test_two_fresh_repros_give_identical_metrics(reproduced, tiny_pretrained, tmp_path):
    _, first = reproduced
    root = make_workspace(tmp_path, tiny_pretrained)
    dvc(root, "repro")
    for name in first:
        if not name.endswith("test_predictions.csv"):
            assert (root / name).read_text() == first[name], name


@pytest.mark.parametrize(("branch", "model", "texts"), [("classification", "text-classifier", 24), ("ner", "ner", 20)])
def test_evaluate_writes_the_drift_reference_as_serving_logs_it(reproduced, branch, model, texts):
    root, _ = reproduced
    lines = (root / f"reports/{branch}/reference.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == texts
    assert {(r["source"], r["model"], r["request_id"]) for r in records} == {("evaluate", model, "evaluate")}
    assert all(r["chars"] > 0 and r["tokens"] > 0 and "output" in r and "text" not in r for r in records)
