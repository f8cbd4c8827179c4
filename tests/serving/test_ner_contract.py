"""The running /ner API fuzzed from its own OpenAPI schema: every request gets an answer the schema promises."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from nlpops.serving.app import create_app
from nlpops.serving.settings import Settings
from nlpops.tasks import TOKEN_CLASSIFICATION
from tests.local_servers import api_server


def ner_schema() -> dict:
    """The schema a NER server publishes with the default limits: the app reads only the manifest's task for it."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "manifest.json").write_text(json.dumps({"task": TOKEN_CLASSIFICATION}))
        return create_app(Settings(artifact_dir=Path(folder))).openapi()


contract = schemathesis.openapi.from_dict(ner_schema())
contract.config.generation.update(modes=list(GenerationMode), max_examples=60, deterministic=True)


@pytest.fixture(scope="module")
def api_url(tiny_ner_artifact: Path) -> Iterator[str]:
    with api_server(tiny_ner_artifact) as url:
        yield url


def test_the_running_server_publishes_that_schema(api_url: str) -> None:
    assert contract.raw_schema == schemathesis.openapi.from_url(f"{api_url}/openapi.json").raw_schema


@contract.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_generated_request_gets_the_answer_the_schema_promises(api_url: str, case: schemathesis.Case) -> None:
    case.call_and_validate(base_url=api_url)
