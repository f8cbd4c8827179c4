"""NER served: entities with character spans, long texts in windows, POST /ner over HTTP, Lambda and batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from nlpops.errors import UserError
from nlpops.serving.app import create_app
from nlpops.serving.core import OnnxModel
from nlpops.serving.lambda_adapter import build_handler
from nlpops.serving.ner import SERVING, joined, tag_words, tags_at
from nlpops.serving.predict import main as predict_main
from nlpops.serving.settings import Settings
from tests.ner_artifacts import NER_LABELS, NER_MAX_LENGTH


@pytest.fixture(scope="module")
def tagger(tiny_ner_artifact: Path) -> OnnxModel:
    return OnnxModel.load(tiny_ner_artifact)


@pytest.fixture(scope="module")
def client(tiny_ner_artifact: Path):
    with TestClient(create_app(Settings(artifact_dir=tiny_ner_artifact, max_batch=4))) as client:
        yield client


def found(tagger: OnnxModel, text: str) -> list[tuple[str, str]]:
    return [(entity.type, entity.text) for entity in SERVING.predict(tagger, [text])[0]]


def test_entities_are_whole_words_merged_and_point_at_the_text_as_sent(tagger: OnnxModel) -> None:
    text = "the film Maria Lopez was witty and the plot Lisbon"
    [entities] = SERVING.predict(tagger, [text])
    assert [(e.type, e.text, e.start, e.end) for e in entities] == [
        ("person", "Maria Lopez", 9, 20),
        ("place", "Lisbon", 44, 50),
    ]
    assert all(0.5 < e.score <= 1 for e in entities)


@pytest.mark.parametrize("text", ["🎬 Mária Lopez flew to New York", "the cast e\u0301 ana was dull 👍🏽 in osaka"])
def test_offsets_are_characters_of_the_original_text_with_accents_and_emoji(tagger: OnnxModel, text: str) -> None:
    [entities] = SERVING.predict(tagger, [text])
    assert entities and all(text[e.start : e.end] == e.text for e in entities)


def test_an_entity_anywhere_in_a_long_text_is_found_once_across_window_boundaries(tagger: OnnxModel) -> None:
    """Windows of 32 tokens sharing 16: the name sits before, across and after several boundaries."""
    assert tagger.tokenizer.truncation == {
        "max_length": NER_MAX_LENGTH,
        "stride": 16,
        "strategy": "longest_first",
        "direction": "right",
    }
    for position in range(70):
        words = ["the"] * position + ["maria", "lopez"] + ["the"] * (70 - position)
        text = " ".join(words)
        people = [e for e in SERVING.predict(tagger, [text])[0] if e.type == "person"]
        start = 4 * position
        assert [(e.text, e.start, e.end) for e in people] == [("maria lopez", start, start + 11)], position


def test_a_stride_the_model_cannot_take_is_a_clear_error(tiny_ner_artifact: Path) -> None:
    with pytest.raises(UserError, match=r"NLPOPS_WINDOW_STRIDE must be from 0 to 29 for this model"):
        OnnxModel.load(tiny_ner_artifact, window_stride=30)


def test_gold_tokens_are_scored_by_the_tag_of_their_first_piece(tagger: OnnxModel) -> None:
    text, starts = joined(["the", "film", "@maria", "lopez", "!"])
    assert text == "the film @maria lopez !" and starts == [0, 4, 9, 16, 22]
    words = tag_words(tagger, text)
    assert [text[w.start : w.end] for w in words] == ["the", "film", "@", "maria", "lopez", "!"]
    first_piece = {w.start: w.tag for w in words}
    assert tags_at(words, starts) == [first_piece[start] for start in (0, 4, 9, 16, 22)]  # "@", not "maria"


def test_post_ner_answers_entities_per_text_and_the_model(client: TestClient, tiny_ner_artifact: Path) -> None:
    response = client.post(
        "/ner", json={"texts": ["the cast Maria Lopez was charming today Lisbon", "the plot was dull"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert [[(e["type"], e["text"]) for e in p["entities"]] for p in body["predictions"]] == [
        [("person", "Maria Lopez"), ("place", "Lisbon")],
        [],
    ]
    assert body["model"]["variant"] == "int8"
    assert client.get("/ready").json()["labels"] == NER_LABELS


def test_ner_refuses_bad_input_like_predict(client: TestClient) -> None:
    assert client.post("/ner", json={"text": "  "}).json()["error"] == "invalid_request"
    assert client.post("/ner", json={"texts": ["a"] * 5}).status_code == 422  # over max_batch
    assert client.post("/ner", content=b"{nope", headers={"Content-Type": "application/json"}).status_code == 400
    assert client.post("/predict", json={"text": "a witty film"}).status_code == 404  # the artifact's task decides


def test_the_schema_publishes_ner_and_not_predict(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/ner" in paths and "/predict" not in paths
    assert client.get("/openapi.json").json()["info"]["title"] == "nlpops named-entity recognizer"


def test_metrics_count_entities_by_type_and_per_text(client: TestClient) -> None:
    def value(name: str, **labels: str) -> float:
        for family in text_string_to_metric_families(client.get("/metrics").text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return 0.0

    people, texts = value("nlpops_entities_total", type="person"), value("nlpops_entities_per_text_count")
    answer = client.post("/ner", json={"texts": ["the film maria lopez was dull osaka", "ana and the cast"]}).json()
    found = [e["type"] for p in answer["predictions"] for e in p["entities"]]
    assert found.count("person") == 2
    assert value("nlpops_entities_total", type="person") == people + 2
    assert value("nlpops_entities_per_text_count") == texts + 2


def test_lambda_direct_invokes_go_to_the_ner_route(tiny_ner_artifact: Path) -> None:
    handler = build_handler(Settings(artifact_dir=tiny_ner_artifact))
    answer = handler({"text": "the cast Maria Lopez was charming today Lisbon"}, None)
    assert [e["text"] for e in answer["predictions"][0]["entities"]] == ["Maria Lopez", "Lisbon"]


def test_the_batch_command_writes_entities_per_text(tiny_ner_artifact: Path, tmp_path: Path) -> None:
    (tmp_path / "texts.txt").write_text("the cast Maria Lopez was charming today Lisbon\nthe plot was dull\n")
    assert (
        predict_main([str(tmp_path / "texts.txt"), "--artifact", str(tiny_ner_artifact), "-o", str(tmp_path / "out")])
        == 0
    )
    lines = [json.loads(line) for line in (tmp_path / "out").read_text().splitlines()]
    assert [line["text"] for line in lines] == ["the cast Maria Lopez was charming today Lisbon", "the plot was dull"]
    assert [e["type"] for e in lines[0]["entities"]] == ["person", "place"] and lines[1]["entities"] == []


def test_a_plain_text_body_is_one_text_as_curl_data_sends_it(client: TestClient) -> None:
    text = "the cast Maria Lopez was charming today Lisbon"
    plain = client.post("/ner", content=text.encode(), headers={"Content-Type": "text/plain; charset=utf-8"})
    assert plain.status_code == 200
    assert plain.json()["predictions"] == client.post("/ner", json={"text": text}).json()["predictions"]
    schema = client.get("/openapi.json").json()["paths"]["/ner"]["post"]["requestBody"]["content"]
    assert set(schema) == {"application/json", "text/plain"}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"  \n", 422, "invalid_request"),  # blank, as {"text": "  "} is
        (b"caf\xe9", 400, "invalid_json"),  # Latin-1, not UTF-8
        (b"a" * 10_000, 413, "payload_too_large"),
    ],
)
def test_bad_plain_text_bodies_get_the_json_errors(
    tiny_ner_artifact: Path, body: bytes, status: int, error: str
) -> None:
    settings = Settings(artifact_dir=tiny_ner_artifact, max_body_bytes=4_000)
    with TestClient(create_app(settings)) as client:
        response = client.post("/ner", content=body, headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.json()["error"]) == (status, error)
