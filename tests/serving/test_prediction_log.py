"""The prediction log: one JSON line per text from the API, Lambda and the batch command, never failing a request."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nlpops.errors import UserError
from nlpops.serving import prediction_log
from nlpops.serving.app import create_app
from nlpops.serving.classification import SERVING as CLASSIFICATION
from nlpops.serving.core import OnnxModel
from nlpops.serving.lambda_adapter import build_handler
from nlpops.serving.predict import main as predict_main
from nlpops.serving.prediction_log import ModelIdentity, PredictionLog, RecordBuilder, write_records
from nlpops.serving.settings import Settings
from tests.serving.artifacts import LABELS, MAX_LENGTH

CONTRACT = ["time", "request_id", "source", "model", "version", "stage", "task", "chars", "tokens", "unknown_tokens",
            "latency_ms", "output"]  # fmt: skip
TEXTS = ["a witty film", "a dull, dull film", "the plot"]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def served(settings: Settings, route: str, payload: dict[str, Any], **headers: str) -> dict[str, Any]:
    """POST ``payload`` to the app of ``settings``; its answer once the app has stopped (and the log is written)."""
    with TestClient(create_app(settings)) as client:
        response = client.post(route, json=payload, headers=headers)
        assert response.status_code == 200
        return response.json()


def test_an_api_request_of_three_texts_logs_three_lines_of_the_contract(tiny_artifact: Path, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "predictions.jsonl"  # its folder is made
    settings = Settings(artifact_dir=tiny_artifact, prediction_log=str(log), model_version="v1.3.0", model_stage="prod")
    answer = served(settings, "/predict", {"texts": TEXTS}, **{"X-Request-ID": "req-42"})
    records = lines(log)
    assert [list(record) for record in records] == [CONTRACT] * 3  # no text unless asked for
    assert {record["request_id"] for record in records} == {"req-42"}
    for record, text, prediction in zip(records, TEXTS, answer["predictions"], strict=True):
        assert record["source"] == "api" and record["task"] == "text-classification"
        assert (record["model"], record["version"], record["stage"]) == ("tiny-artifact", "v1.3.0", "prod")
        assert record["time"].endswith("Z") and record["latency_ms"] > 0
        assert record["chars"] == len(text) and record["tokens"] >= len(text.split()) >= 1
        assert 0 <= record["unknown_tokens"] <= record["tokens"]
        assert record["output"] == {"label": prediction["label"], "score": round(prediction["score"], 4)}


def test_texts_are_logged_only_when_asked_and_then_truncated(tiny_artifact: Path, tmp_path: Path) -> None:
    log = tmp_path / "predictions.jsonl"
    settings = Settings(artifact_dir=tiny_artifact, prediction_log=str(log), log_texts=True, log_text_chars=5)
    served(settings, "/predict", {"text": "a witty film"})
    [record] = lines(log)
    assert record["text"] == "a wit"
    assert len(record["request_id"]) == 32  # none given: one is made up


def test_a_text_longer_than_the_model_counts_all_its_tokens(tiny_artifact: Path) -> None:
    model = OnnxModel.load(tiny_artifact)
    builder = RecordBuilder(CLASSIFICATION, model, ModelIdentity("m", None, None), "evaluate")
    text = "film " * (3 * MAX_LENGTH) + "\u2603"  # a snowman: not in the tiny vocabulary
    [record] = builder.records([text], CLASSIFICATION.predict(model, [text]))
    assert record["tokens"] == 3 * MAX_LENGTH + 1 and record["unknown_tokens"] == 1


def test_sampling_zero_logs_nothing(tiny_artifact: Path, tmp_path: Path) -> None:
    log = tmp_path / "predictions.jsonl"
    served(Settings(artifact_dir=tiny_artifact, prediction_log=str(log), prediction_log_sample=0.0), "/predict",
           {"texts": TEXTS})  # fmt: skip
    assert log.read_text() == ""


def test_a_path_that_cannot_be_written_fails_the_start_clearly(tiny_artifact: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    settings = Settings(artifact_dir=tiny_artifact, prediction_log=str(tmp_path / "a-file" / "predictions.jsonl"))
    with pytest.raises(UserError, match=r"NLPOPS_PREDICTION_LOG=.*cannot be written"), TestClient(create_app(settings)):
        pass


class Failing(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        raise OSError(28, "No space left on device")


class Stuck(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.release.wait(10)


def test_a_failing_log_never_fails_a_request_and_warns_once(
    tiny_artifact: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(artifact_dir=tiny_artifact, prediction_log=str(tmp_path / "p.jsonl")))
    with TestClient(app) as client:
        app.state.runner.log.handler = Failing()
        assert all(client.post("/predict", json={"text": text}).status_code == 200 for text in TEXTS)
        assert app.state.runner.log.flush(5)
    warnings = [r.getMessage() for r in caplog.records if r.name == prediction_log.__name__]
    assert warnings == ["the prediction log is losing records: OSError: [Errno 28] No space left on device"]


def test_a_full_queue_drops_records_instead_of_waiting(
    tiny_artifact: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(prediction_log, "QUEUE_REQUESTS", 1)
    model = OnnxModel.load(tiny_artifact)
    stuck = Stuck()
    log = PredictionLog(RecordBuilder(CLASSIFICATION, model, ModelIdentity("m", None, None), "api"), stuck, 1.0)
    answers = CLASSIFICATION.predict(model, TEXTS[:1])
    for _ in range(3):  # one being written, one queued, one dropped
        log.write(TEXTS[:1], answers, 0.001, None)
    stuck.release.set()
    log.close()
    assert "the prediction log is losing records: its queue is full" in caplog.text


def test_ner_lines_count_entities_by_type(tiny_ner_artifact: Path, tmp_path: Path) -> None:
    log = tmp_path / "ner.jsonl"
    text = "the film maria lopez was dull osaka"
    answer = served(Settings(artifact_dir=tiny_ner_artifact, prediction_log=str(log)), "/ner", {"text": text})
    [record] = lines(log)
    entities = answer["predictions"][0]["entities"]
    assert record["task"] == "token-classification" and record["model"] == "tiny-ner-artifact"
    assert record["output"]["entities"] == len(entities)
    assert sum(record["output"]["types"].values()) == len(entities)
    if entities:
        mean = sum(entity["score"] for entity in entities) / len(entities)
        assert record["output"]["score"] == pytest.approx(mean, abs=1e-4)
    else:
        assert record["output"]["score"] is None


def test_lambda_logs_to_stdout_with_its_request_id(tiny_artifact: Path, capsys: pytest.CaptureFixture) -> None:
    settings = Settings.from_env({"NLPOPS_ARTIFACT_DIR": str(tiny_artifact)}, defaults={"prediction_log": "-"})
    handler = build_handler(settings)
    answer = handler({"texts": TEXTS[:2]}, SimpleNamespace(aws_request_id="aws-7"))
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # flushed before it returned
    assert [(r["source"], r["request_id"], r["output"]["label"]) for r in records] == [
        ("lambda", "aws-7", prediction["label"]) for prediction in answer["predictions"]
    ]


def test_the_batch_command_logs_each_text_with_one_run_id(
    tiny_artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, log = tmp_path / "texts.txt", tmp_path / "predictions.jsonl"
    source.write_text("\n".join(TEXTS) + "\n")
    monkeypatch.setenv("NLPOPS_PREDICTION_LOG", str(log))
    assert predict_main([str(source), "-o", str(tmp_path / "out.jsonl"), "--artifact", str(tiny_artifact)]) == 0
    records = lines(log)
    assert sorted(r["chars"] for r in records) == sorted(map(len, TEXTS))
    assert {r["source"] for r in records} == {"batch"} and len({r["request_id"] for r in records}) == 1
    assert predict_main([str(source), "--artifact", str(tiny_artifact)]) == 0  # stdout: predictions
    monkeypatch.setenv("NLPOPS_PREDICTION_LOG", "-")
    assert predict_main([str(source), "--artifact", str(tiny_artifact)]) == 2  # both to stdout: refused


def test_the_evaluation_writes_a_reference_file_in_the_same_format(tiny_artifact: Path, tmp_path: Path) -> None:
    model = OnnxModel.load(tiny_artifact)
    identity = ModelIdentity.of(Settings(model_version="v2"), Path("models/text-classifier-onnx"))
    builder = RecordBuilder(CLASSIFICATION, model, identity, "evaluate")
    write_records(tmp_path / "reference.jsonl", builder.records(TEXTS, CLASSIFICATION.predict(model, TEXTS)))
    records = lines(tmp_path / "reference.jsonl")
    assert [list(record) for record in records] == [CONTRACT] * 3
    assert {(r["source"], r["model"], r["version"], r["latency_ms"]) for r in records} == {
        ("evaluate", "text-classifier", "v2", None)
    }
    assert {r["output"]["label"] for r in records} <= set(LABELS)


def test_ready_names_the_model_and_its_release(tiny_artifact: Path) -> None:
    settings = Settings(artifact_dir=tiny_artifact, model_name="reviews", model_version="v1.3.0")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready").json()
    assert (ready["model_name"], ready["model_version"], ready["model_stage"]) == ("reviews", "v1.3.0", None)
    assert set(ready) == {"status", "model", "labels", "model_name", "model_version", "model_stage"}
