"""Drift reports end to end: the real server writes the prediction log, Evidently reports on it (.venv-monitor).

The reference is the model's test-split predictions as the evaluate stage writes them; the current log is what the
server (``NLPOPS_PREDICTION_LOG``) or a deployed function (CloudWatch) logged. Exit 0 no drift, 1 drift.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nlpops.serving.classification import SERVING
from nlpops.serving.core import OnnxModel
from nlpops.serving.prediction_log import ModelIdentity, RecordBuilder, write_records
from nlpops.serving.settings import Settings
from tests.helpers import toy_reviews
from tests.local_servers import request
from tests.monitor.conftest import FUNCTION, put_function_logs
from tests.monitor.monitor_env import requires_monitor_env, run_drift, summary
from tests.monitor.records import ner_record, reviews, write_log
from tests.serving.test_server_process import running_server

pytestmark = requires_monitor_env

NOISE = ["xkcd", "zqj", "jazz", "kix", "@@", "0x7f"]  # characters the tiny tokenizer never saw: unknown tokens


def held_out_texts() -> list[str]:
    """The tiny model's test split: reviews it was not trained on, from the same generator."""
    return [row["review"] for row in toy_reviews(120, seed=7)]


def shifted(texts: list[str]) -> list[str]:
    """The same texts made much shorter and noisier: one word of each, then words of unknown characters."""
    rng = random.Random(0)
    return [f"{text.split()[0]} {' '.join(rng.sample(NOISE, 2))}" for text in texts]


@pytest.fixture(scope="module")
def reference(tiny_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The evaluate stage's reference file: the model's predictions over its test split, source "evaluate"."""
    model = OnnxModel.load(tiny_artifact)
    texts = held_out_texts()
    builder = RecordBuilder(SERVING, model, ModelIdentity.of(Settings(), tiny_artifact), "evaluate")
    path = tmp_path_factory.mktemp("reference") / "reference.jsonl"
    write_records(path, builder.records(texts, SERVING.predict(model, texts)))
    return path


def served_log(artifact: Path, texts: list[str], log: Path) -> Path:
    """POST ``texts`` to the real server process, in requests of 16, with its prediction log at ``log``."""
    with running_server(artifact, NLPOPS_PREDICTION_LOG=str(log)) as (url, _):
        for start in range(0, len(texts), 16):
            status, _ = request(f"{url}/predict", json.dumps({"texts": texts[start : start + 16]}).encode())
            assert status == 200
    return log  # the server has stopped: every queued record is written


@pytest.mark.parametrize("drift", [False, True], ids=["test-split", "shorter-and-noisier"])
def test_the_servers_log_drifts_only_when_its_texts_do(
    tiny_artifact: Path, reference: Path, tmp_path: Path, drift: bool
) -> None:
    texts = shifted(held_out_texts()) if drift else held_out_texts()
    log = served_log(tiny_artifact, texts, tmp_path / "logs" / "predictions.jsonl")
    html = tmp_path / "reports" / "drift.html"
    result = run_drift("--reference", reference, "--current", log, "--html", html)
    assert result.returncode == int(drift), result.stderr
    report = summary(html)
    assert report["drift"] is drift
    assert report["current"]["rows"] == report["reference"]["rows"] == 120
    assert report["current"]["model"] == report["reference"]["model"] == "tiny-artifact"
    if drift:  # shorter texts, full of words the tokenizer cannot read
        assert {"chars", "tokens", "unknown_share"} <= set(report["drifted_columns"])
        assert result.stdout.startswith("drift detected: ")
    else:
        assert report["drifted_columns"] == [] and result.stdout.startswith("no drift: 0 of 5 columns drifted")


@pytest.fixture
def ner_reference(tmp_path: Path) -> Path:
    rng = random.Random(0)
    types = [{}, {"person": 1}, {"geo-loc": 1}, {"person": 1, "company": 2}]
    return write_log(tmp_path / "ner-reference.jsonl", [ner_record(rng.choice(types)) for _ in range(80)])


def test_a_tagger_that_stops_finding_entities_drifts(ner_reference: Path, tmp_path: Path) -> None:
    current = write_log(tmp_path / "current.jsonl", [ner_record({})] * 60, extra_lines=["garbage"])
    html = tmp_path / "drift.html"
    result = run_drift("--reference", ner_reference, "--current", current, "--html", html)
    assert result.returncode == 1, result.stderr
    report = summary(html)
    assert {"entities", "entity_type"} <= set(report["drifted_columns"])
    assert report["empty_columns"] == ["confidence"]  # no entity, no confidence: no test, no crash
    assert report["current"]["skipped"] == {"not JSON": 1}


def test_a_deployed_functions_cloudwatch_logs_are_a_source(aws_logs: str, tmp_path: Path) -> None:
    reference = write_log(tmp_path / "reference.jsonl", reviews(80, seed=0))
    put_function_logs([json.dumps(record) for record in reviews(60, seed=1)])
    html = tmp_path / "drift.html"
    result = run_drift("--reference", reference, "--cloudwatch", FUNCTION, "--since", "1h", "--html", html)
    assert result.returncode == 0, result.stderr
    current = summary(html)["current"]
    assert current["source"] == f"CloudWatch /aws/lambda/{FUNCTION} (last 1h)"
    assert (current["rows"], current["skipped"]) == (60, {"not JSON": 3})
