"""The running /generate API fuzzed from its own OpenAPI schema: every request gets an answer the schema promises.

The limits are set so that every prompt the schema allows fits the model with any ``max_new_tokens`` it allows
(32 characters are at most 128 byte-level tokens, and 128 + 128 fit the tiny model's 256): a request the schema
accepts must get a 200, and only the token limits a schema cannot state are left to the other tests.
"""

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
from nlpops.tasks import TEXT_GENERATION
from tests.local_servers import api_server

LIMITS = {"max_text_chars": 32, "max_prompt_tokens": 128, "max_new_tokens": 128, "queue_timeout": 30.0}


def generation_schema() -> dict:
    """The schema a generation server publishes with these limits: the app reads only the manifest's task for it."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "manifest.json").write_text(json.dumps({"task": TEXT_GENERATION}))
        return create_app(Settings(artifact_dir=Path(folder), **LIMITS)).openapi()


contract = schemathesis.openapi.from_dict(generation_schema()).include(path="/generate")
contract.config.generation.update(modes=list(GenerationMode), max_examples=60, deterministic=True)


@pytest.fixture(scope="module")
def api_url(tiny_generation_artifact: Path) -> Iterator[str]:
    with api_server(tiny_generation_artifact, **LIMITS) as url:
        yield url


def test_the_running_server_publishes_that_schema(api_url: str, tiny_generation_artifact: Path) -> None:
    served = schemathesis.openapi.from_url(f"{api_url}/openapi.json").raw_schema
    assert served["paths"]["/generate"] == contract.raw_schema["paths"]["/generate"]


@contract.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_generated_request_gets_the_answer_the_schema_promises(api_url: str, case: schemathesis.Case) -> None:
    case.call_and_validate(base_url=api_url)
