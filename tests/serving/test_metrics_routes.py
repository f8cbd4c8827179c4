"""The ``route`` label of the HTTP metrics: a route's path template whenever a route answers, else ``<unmatched>``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from nlpops.serving.app import create_app
from nlpops.serving.settings import Settings

MAX_BODY_BYTES = 4_000
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client(tiny_artifact: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(artifact_dir=tiny_artifact, max_body_bytes=MAX_BODY_BYTES))) as client:
        yield client


def requests_by_route(client: TestClient, method: str, status: int) -> dict[str, float]:
    """``nlpops_http_requests_total`` for ``method`` and ``status``, by route, scraped from /metrics."""
    wanted = {"method": method, "status": str(status)}
    counts = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "nlpops_http_requests_total" and wanted.items() <= sample.labels.items():
                counts[sample.labels["route"]] = sample.value
    return counts


def test_the_docs_routes_are_labelled_with_their_paths(client: TestClient) -> None:
    before = requests_by_route(client, "GET", 200)
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert client.get(path).status_code == 200
    after = requests_by_route(client, "GET", 200)
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert after[path] == before.get(path, 0) + 1
    assert "<unmatched>" not in after


def test_a_trailing_slash_redirect_counts_under_the_route_it_redirects_to(client: TestClient) -> None:
    before = requests_by_route(client, "POST", 307).get("/predict", 0)
    response = client.post("/predict/", json={"text": "a witty film"}, follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"].endswith("/predict")
    assert requests_by_route(client, "POST", 307) == {"/predict": before + 1}


def test_a_413_counts_under_predict_whether_the_length_is_declared_or_streamed(client: TestClient) -> None:
    before = requests_by_route(client, "POST", 413).get("/predict", 0)
    declared = b'{"texts": ["%s"]}' % (b"a" * MAX_BODY_BYTES)  # refused on its Content-Length, before routing
    assert client.post("/predict", content=declared, headers=JSON).status_code == 413
    chunks = (b'{"texts": ["' if i == 0 else b"a" * 1000 for i in range(6))  # no Content-Length: refused as read
    assert client.post("/predict", content=chunks, headers=JSON).status_code == 413
    assert requests_by_route(client, "POST", 413) == {"/predict": before + 2}


def test_paths_no_route_answers_stay_unmatched(client: TestClient) -> None:
    before = requests_by_route(client, "GET", 404).get("<unmatched>", 0)
    for path in ("/nope", "/nope/", "/predictions", "/docs/nope"):
        assert client.get(path).status_code == 404
    assert requests_by_route(client, "GET", 404) == {"<unmatched>": before + 4}
    too_large = requests_by_route(client, "POST", 413).get("<unmatched>", 0)
    assert client.post("/nope", content=b"a" * (MAX_BODY_BYTES + 1), headers=JSON).status_code == 413
    assert requests_by_route(client, "POST", 413)["<unmatched>"] == too_large + 1
