"""The CloudWatch source: a deployed function's prediction lines for a time window, against moto's Logs API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from nlpops.errors import UserError
from nlpops.monitor.cloudwatch import duration, read_log_events
from nlpops.monitor.predictions import read_predictions
from tests.monitor.conftest import FUNCTION, put_function_logs
from tests.monitor.records import reviews


def test_the_windows_log_lines_are_read_and_the_runtimes_lines_skipped(aws_logs: str) -> None:
    put_function_logs([json.dumps(record) for record in reviews(5, seed=0)])
    lines = read_log_events(FUNCTION, timedelta(hours=1))
    assert len(lines) == 8 and not any(line.endswith("\n") for line in lines)
    log = read_predictions(lines, "cloudwatch")
    assert (len(log.rows), dict(log.skipped)) == (5, {"not JSON": 3})


def test_events_before_the_window_are_left_out(aws_logs: str) -> None:
    put_function_logs([json.dumps(reviews(1, seed=0)[0])], age_s=7200)
    assert read_log_events(FUNCTION, timedelta(hours=1)) == []


def test_a_missing_log_group_names_it(aws_logs: str) -> None:
    with pytest.raises(UserError, match="no CloudWatch log group /aws/lambda/nope: check the function name"):
        read_log_events("nope", timedelta(hours=1))


def test_no_aws_credentials_is_a_user_error(no_aws: None) -> None:
    with pytest.raises(UserError, match="no AWS credentials for the CloudWatch source"):
        read_log_events(FUNCTION, timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "span"), [("90s", timedelta(seconds=90)), ("24h", timedelta(days=1)), ("7d", timedelta(days=7))]
)
def test_durations(text: str, span: timedelta) -> None:
    assert duration(text) == span


@pytest.mark.parametrize("text", ["0h", "1w", "h", "-1h", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        duration(text)
