"""A moto server (SageMaker, S3, ECR, STS, CloudWatch Logs) for the cloud commands, and the repository as cwd."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlpops.data.raw import ensure_raw_file
from tests.cli import REPO_ROOT
from tests.cloud.account import ROLE_ARN, Account
from tests.deploy.conftest import FOREIGN_AWS_VARIABLES
from tests.local_servers import moto_server

RAW_FILES = {  # data.dvc's files and the assets they are re-created from (configs/prepare/<task>.yaml)
    "rotten_tomatoes_corpus_full.csv.bz2": "asset:rotten-tomatoes",
    "ner_tweets.txt": "asset:ner-tweets",
    "hamlet.txt": "asset:hamlet",
}


@pytest.fixture(scope="session")
def cloud_moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def raw_data_in_dvc_cache() -> None:
    """data/raw as `make data` leaves a fresh clone: re-created from its pinned assets and in DVC's cache, so that DVC
    can name the remote object of a file in it (the job's data channel)."""
    for name, asset in RAW_FILES.items():
        ensure_raw_file(REPO_ROOT / "data" / "raw" / name, asset, REPO_ROOT / "data.dvc")


@pytest.fixture
def aws_env(cloud_moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, raw_data_in_dvc_cache: None) -> str:
    """An empty moto account and an environment in which boto3 reaches nothing else; cwd: the repository."""
    reset = urllib.request.Request(f"{cloud_moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    for name in (*FOREIGN_AWS_VARIABLES, "NLPOPS_SAGEMAKER_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", cloud_moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.chdir(REPO_ROOT)
    return cloud_moto_url


@pytest.fixture
def account(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Account:
    monkeypatch.setenv("NLPOPS_SAGEMAKER_ROLE_ARN", ROLE_ARN)
    return Account.create()
