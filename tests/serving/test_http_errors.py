"""Bodies that are JSON to a client but that Python cannot parse: a 400 that says why, over the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nlpops.serving.app import create_app
from nlpops.serving.settings import Settings

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client(tiny_artifact: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(artifact_dir=tiny_artifact)), raise_server_exceptions=False) as client:
        yield client  # the default body limit: these bodies are parsed, not refused as too large


UNPARSABLE_BODIES = [
    pytest.param(b"[" * 5000 + b"]" * 5000, "nests arrays or objects too deeply", '{"texts": [', id="nested"),
    pytest.param(b'{"text": %s}' % (b"9" * 5000), "integer of more than 4300 digits", "quote them", id="long-int"),
    pytest.param(b'{"text": "caf\xe9"}', "is not UTF-8 (byte 0xe9 at position 13)", "send UTF-8", id="not-utf-8"),
]


@pytest.mark.parametrize(("body", "problem", "fix"), UNPARSABLE_BODIES)
def test_json_python_cannot_parse_is_a_400_that_says_why_and_what_to_send(
    client: TestClient, body: bytes, problem: str, fix: str
) -> None:
    response = client.post("/predict", content=body, headers=JSON)
    assert response.status_code == 400
    error = response.json()
    assert error["error"] == "invalid_json" and error["details"] == []
    assert problem in error["message"] and fix in error["message"]
    assert "error parsing the body" not in error["message"]  # FastAPI's own words, which say neither
    assert client.post("/predict", json={"text": "a witty film"}).status_code == 200  # and it keeps serving
