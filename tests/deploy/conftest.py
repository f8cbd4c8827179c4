"""A local AWS (moto server on 127.0.0.1) holding the stack infra/ creates, and a healthy API to smoke-test.

Every AWS call of these tests goes to the moto server: ``AWS_ENDPOINT_URL`` points boto3 there, the
credentials are fake, and no profile, config file or instance metadata can supply real ones.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.deploy.stand_ins import SETTINGS, Stack, write_settings
from tests.local_servers import api_server, moto_server

# Variables through which boto3 could find real credentials, a role or another endpoint.
FOREIGN_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """``moto_server`` in a subprocess on a free port of 127.0.0.1, for the whole session."""
    with moto_server() as url:
        yield url


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """An empty moto account, and an environment in which boto3 can reach nothing else."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10).close()
    for name in FOREIGN_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no credential lookup on 169.254.169.254
    return moto_url


@pytest.fixture
def stack(aws: str, tmp_path: Path) -> Stack:
    """The repository with image v1, the function created from it (version 1), the live alias and its URL."""
    session = boto3.session.Session(region_name=SETTINGS.aws_region)
    ecr, lam, iam = session.client("ecr"), session.client("lambda"), session.client("iam")
    ecr.create_repository(repositoryName=SETTINGS.ecr_repository, imageTagMutability="IMMUTABLE")
    deployed = Stack(write_settings(tmp_path / "deploy.env", SETTINGS), ecr, lam)
    deployed.push("v1")
    role = iam.create_role(RoleName="function", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    uri = ecr.describe_repositories(repositoryNames=[SETTINGS.ecr_repository])["repositories"][0]["repositoryUri"]
    function = SETTINGS.lambda_function
    lam.create_function(
        FunctionName=function, Role=role, PackageType="Image", Code={"ImageUri": f"{uri}:v1"}, Publish=True
    )
    lam.create_alias(FunctionName=function, Name=SETTINGS.lambda_alias, FunctionVersion="1")
    lam.create_function_url_config(FunctionName=function, Qualifier=SETTINGS.lambda_alias, AuthType="NONE")
    return deployed


@pytest.fixture(scope="session")
def healthy_api(tiny_artifact: Path) -> Iterator[str]:
    """The real API serving the tiny model: what a good release answers."""
    with api_server(tiny_artifact) as url:
        yield url
