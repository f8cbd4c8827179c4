"""A local AWS (moto server on 127.0.0.1) holding the stack infra/ creates, and a healthy API to smoke-test.

Every AWS call of these tests goes to the moto server: ``AWS_ENDPOINT_URL`` points boto3 there, the
credentials are fake, and no profile, config file or instance metadata can supply real ones.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.stand_ins import NER_SETTINGS, SETTINGS, Stack, write_settings
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
def settings_file(tmp_path: Path) -> Path:
    return write_settings(tmp_path / "deploy.env")


@pytest.fixture
def stack(aws: str, settings_file: Path) -> Stack:
    """The classification function as infra/ and a first CD run leave it: image v1 live as version 1."""
    return Stack.create(settings_file, SETTINGS).add_function()


@pytest.fixture
def ner_stack(aws: str, settings_file: Path) -> Stack:
    """The NER function, in the same account, as infra/ and a first CD run leave it."""
    return Stack.create(settings_file, NER_SETTINGS).add_function()


@pytest.fixture(scope="session")
def healthy_api(tiny_artifact: Path) -> Iterator[str]:
    """The real API serving the tiny model: what a good release answers."""
    with api_server(tiny_artifact) as url:
        yield url


@pytest.fixture(scope="session")
def healthy_ner_api(tiny_ner_artifact: Path) -> Iterator[str]:
    """The real API serving the tiny NER model: what a good NER release answers."""
    with api_server(tiny_ner_artifact) as url:
        yield url
