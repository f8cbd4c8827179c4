"""A local CloudWatch Logs API (moto's server on 127.0.0.1) holding a Lambda function's log group."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from nlpops.monitor.cloudwatch import log_group
from tests.deploy.conftest import FOREIGN_AWS_VARIABLES
from tests.local_servers import moto_server

FUNCTION = "nlpops-text-classifier"
REGION = "eu-west-1"


@pytest.fixture(scope="session")
def logs_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment where boto3 finds no credentials, profile or endpoint of the machine's."""
    for name in (*FOREIGN_AWS_VARIABLES, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def aws_logs(logs_url: str, no_aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty moto account that boto3 reaches with fake credentials; its endpoint URL."""
    urllib.request.urlopen(urllib.request.Request(f"{logs_url}/moto-api/reset", method="POST"), timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", logs_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return logs_url


def put_function_logs(lines: list[str], function: str = FUNCTION, age_s: float = 60) -> None:
    """``lines`` in the function's log group, as if logged ``age_s`` seconds ago (the runtime's lines around)."""
    client = boto3.client("logs")
    client.create_log_group(logGroupName=log_group(function))
    client.create_log_stream(logGroupName=log_group(function), logStreamName="2026/12/06/[$LATEST]abc")
    at = int((time.time() - age_s) * 1000)
    messages = ["START RequestId: 1 Version: 7", *lines, "END RequestId: 1", "REPORT RequestId: 1 Duration: 9 ms"]
    client.put_log_events(
        logGroupName=log_group(function),
        logStreamName="2026/12/06/[$LATEST]abc",
        logEvents=[{"timestamp": at + index, "message": message + "\n"} for index, message in enumerate(messages)],
    )
