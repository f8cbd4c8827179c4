"""The running API fuzzed against the OpenAPI schema it publishes (schemathesis, over HTTP).

Requests the schema allows must be answered 200; requests it forbids (wrong types, nulls, blank or long texts,
both fields or neither, unknown fields) must get a documented 4xx; no generated request may get a 5xx, and every
answer must match the documented status codes, content type and body schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from nlpops.serving.app import create_app
from nlpops.serving.settings import Settings
from tests.local_servers import api_server

# The schema the app publishes at /openapi.json with the default limits (building the app loads no model);
# loaded here, not from the server through schemathesis.pytest.from_fixture, which fails under pytest 9.
contract = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
# valid and invalid requests; the same examples every run, so a red test is a real regression
contract.config.generation.update(modes=list(GenerationMode), max_examples=80, deterministic=True)


@pytest.fixture(scope="module")
def api_url(tiny_artifact: Path) -> Iterator[str]:
    with api_server(tiny_artifact) as url:
        yield url


def test_the_running_server_publishes_that_schema(api_url: str) -> None:
    assert contract.raw_schema == schemathesis.openapi.from_url(f"{api_url}/openapi.json").raw_schema


@contract.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_generated_request_gets_the_answer_the_schema_promises(api_url: str, case: schemathesis.Case) -> None:
    case.call_and_validate(base_url=api_url)
