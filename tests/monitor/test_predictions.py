"""The reader: prediction-log lines → the columns drift is measured on; bad lines are skipped and counted."""

from __future__ import annotations

import json

import pytest

from nlpops import tasks
from nlpops.errors import UserError
from nlpops.monitor.predictions import NO_ENTITY, read_predictions
from tests.monitor.records import classification_record, ner_record


def lines(*records: dict) -> list[str]:
    return [json.dumps(record) for record in records]


def test_classification_columns_are_label_confidence_length_tokens_and_unknown_share() -> None:
    record = classification_record(100, "rotten", 0.75, tokens=20, unknown_tokens=5)
    log = read_predictions(lines(record), "log")
    assert (log.model, log.task) == ("text-classifier", tasks.CLASSIFICATION)
    assert log.table() == {
        "label": ["rotten"],
        "confidence": [0.75],
        "chars": [100],
        "tokens": [20],
        "unknown_share": [0.25],
    }


def test_ner_columns_count_entities_and_the_main_entity_type() -> None:
    records = [ner_record({"person": 1, "geo-loc": 2}), ner_record({"person": 1, "company": 1}), ner_record({})]
    table = read_predictions(lines(*records), "log").table()
    assert table["entities"] == [3, 2, 0]
    assert table["entity_type"] == ["geo-loc", "company", NO_ENTITY]  # most frequent; ties alphabetical
    assert table["confidence"] == [0.8, 0.8, None]  # no entity: no confidence


def test_bad_lines_are_skipped_and_counted_by_reason_never_fatal() -> None:
    good = classification_record(50)
    text = [
        *lines(good, good),
        "START RequestId: 1 Version: 7",  # the Lambda runtime's own lines in CloudWatch
        '{"time": "2026-12-06T12:00:00.123Z", "model": "text-classifier", "task": "text-class',  # cut short
        "[1, 2]",
        "",
        *lines(classification_record(50, tokens="many"), classification_record(50) | {"chars": True}),
        *lines({k: v for k, v in good.items() if k != "chars"}, classification_record(50, output=None)),
        *lines(classification_record(50, task="text-generation")),
    ]
    log = read_predictions(text, "log")
    assert len(log.rows) == 2
    assert log.skipped == {
        "not JSON": 2,
        "not a prediction record": 1,
        "malformed prediction record": 4,
        "task 'text-generation' not monitored": 1,
    }


def test_the_current_log_is_read_for_the_reference_model_only() -> None:
    text = lines(*[classification_record(50)] * 3, ner_record({"person": 1}), classification_record(50, model="x"))
    log = read_predictions(text, "log", ("text-classifier", tasks.CLASSIFICATION))
    assert len(log.rows) == 3
    assert log.skipped == {"model ner (token-classification)": 1, "model x (text-classification)": 1}


def test_without_a_model_the_most_frequent_one_is_read() -> None:
    text = lines(ner_record({}), *[classification_record(50, version=None)] * 2)
    log = read_predictions(text, "log")
    assert (log.model, len(log.rows), dict(log.versions)) == ("text-classifier", 2, {"unversioned": 2})


def test_a_log_without_any_prediction_is_a_user_error() -> None:
    with pytest.raises(UserError, match=r"reference.jsonl holds no prediction records \(2 not JSON\)"):
        read_predictions(["oops", "{"], "reference.jsonl")
