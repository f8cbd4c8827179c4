"""Named-entity recognition served: ``POST /ner`` answers each text with its entities and their character spans.

A word is what the tokenizer's pre-tokenizer calls one (split at spaces and punctuation); its label is its first
word piece's, the piece training labelled, and its score that label's probability. Adjacent words tagged B-/I-
of one type merge into one entity (the Hugging Face pipeline's ``first`` aggregation, read with seqeval's rules:
``nlpops.tagging``), scored by the mean of its words' scores. ``start`` and ``end`` are offsets into the text as
sent (``text[start:end] == entity.text``, accents and emoji included). A text longer than the model's max length
runs in windows that share ``NLPOPS_WINDOW_STRIDE`` tokens; a token seen by two windows takes the labels of the
one where it has more context on both sides, so no entity is lost or doubled at a boundary.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, Field

from nlpops import tagging
from nlpops.errors import UserError
from nlpops.serving.core import OnnxModel, in_batches, model_inputs, softmax
from nlpops.serving.plain_text import PLAIN_TEXT, PlainTextAsJson
from nlpops.serving.runtime import InferenceRunner, add_texts_route
from nlpops.serving.schemas import NOT_BLANK, ModelOut, texts_request_model
from nlpops.serving.settings import Settings
from nlpops.serving.task import Evaluation, SmokeTestFailed, TaskServing
from nlpops.serving.task import Request as SmokeRequest

EXAMPLES = ("Maria Lopez flew from Lisbon to Osaka.", "George Washington was president of the United States.")
SMOKE_TEXT = "Barack Obama visited Paris and London with Angela Merkel."
ENTITY_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21)


@dataclass(frozen=True)
class Entity:
    type: str
    text: str
    start: int  # character offsets into the text: text[start:end] == self.text
    end: int
    score: float  # mean probability of its words' labels


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    tag: str  # IOB2
    score: float


def token_labels(model: OnnxModel, text: str) -> list[tuple[int, tuple[int, int], np.ndarray]]:
    """(word id, character span, label probabilities) of each of the text's tokens, over all its windows, in order.

    The tokenizer cuts a long text into windows that advance by their length less the stride (``Encoding.
    overflowing``); each window runs alone, as dynamic INT8 needs, and a token in two windows keeps the labels of
    the one where it is further from an edge.
    """
    [encoding] = model.tokenize([text])
    stride = model.tokenizer.truncation["stride"]
    best: dict[int, tuple[int, int, tuple[int, int], np.ndarray]] = {}  # token index -> (context, word, span, probs)
    position = 0
    for window in (encoding, *encoding.overflowing):
        probabilities = softmax(model.run(model_inputs([window]))[0].astype(np.float64))
        content = [i for i, special in enumerate(window.special_tokens_mask) if not special]
        for rank, i in enumerate(content):
            context = min(rank, len(content) - 1 - rank)
            if position + rank not in best or context > best[position + rank][0]:
                best[position + rank] = (context, window.word_ids[i], window.offsets[i], probabilities[i])
        position += len(content) - stride
    return [best[index][1:] for index in sorted(best)]


def tag_words(model: OnnxModel, text: str) -> list[Word]:
    """The text's words with the label of their first piece and its probability."""
    return merge_pieces(token_labels(model, text), model.labels)


def merge_pieces(pieces: Iterable[tuple[int | None, tuple[int, int], np.ndarray]], labels: Sequence[str]) -> list[Word]:
    """Word pieces (word id, character span, label probabilities) in text order → words labelled by their first
    piece; special tokens (no word) are left out."""
    words: list[Word] = []
    last_word = None
    for word, (start, end), probabilities in pieces:
        if word is None:
            continue
        if word == last_word:  # a later piece of the same word: it only widens the word
            words[-1] = Word(words[-1].start, end, words[-1].tag, words[-1].score)
            continue
        best = int(probabilities.argmax())
        words.append(Word(start, end, labels[best], float(probabilities[best])))
        last_word = word
    return words


def entities(text: str, words: Sequence[Word]) -> list[Entity]:
    """Adjacent words of one entity merged, as seqeval reads their tags."""
    found = []
    for kind, first, last in tagging.entity_spans([word.tag for word in words]):
        start, end = words[first].start, words[last - 1].end
        score = float(np.mean([word.score for word in words[first:last]]))
        found.append(Entity(kind, text[start:end], start, end, score))
    return found


def tags_at(words: Sequence[Word], starts: Sequence[int]) -> list[str]:
    """The tag of the word beginning at each of ``starts`` (a gold token's first character), else ``O``.

    Gold tokens are whitespace-separated; the first word piece of each is what training labelled.
    """
    by_start = {word.start: word.tag for word in words}
    return [by_start.get(start, "O") for start in starts]


def joined(tokens: Sequence[str]) -> tuple[str, list[int]]:
    """Gold tokens as one text (joined by spaces) and the first character of each: how the model sees them."""
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    return " ".join(tokens), starts


def check_tags_known(gold: Sequence[Sequence[str]], labels: Sequence[str], model: object) -> None:
    """Raise if the data has tags the model (``model``: where it lives, for the message) cannot predict."""
    unknown = sorted({tag for tags in gold for tag in tags} - set(labels))
    if unknown:
        raise UserError(
            f"the data has tags {unknown} that the model at {model} does not know (it has {list(labels)}); "
            "use the data config the model was trained on"
        )


def plain_text_schema(settings: Settings) -> dict[str, Any]:
    """One text as the whole body: the limits and the not-blank rule of a JSON ``text``."""
    return {"type": "string", "minLength": 1, "maxLength": settings.max_text_chars, "pattern": NOT_BLANK}


class EntityOut(BaseModel):
    type: str = Field(description="The entity type, e.g. person")
    text: str = Field(description="The entity as it is written in the text: `text[start:end]`")
    start: int = Field(description="Offset of its first character in the text (Unicode code points)")
    end: int = Field(description="Offset just past its last character")
    score: float = Field(description="Mean probability of its words' labels")


class TextEntitiesOut(BaseModel):
    entities: list[EntityOut] = Field(description="The text's entities, in text order")


class NerResponse(BaseModel):
    predictions: list[TextEntitiesOut] = Field(description="One result per text, in request order")
    model: ModelOut


class NerServing(TaskServing):
    title = "nlpops named-entity recognizer"
    summary = "Entities (people, places, organisations, ...) in text, with their character spans, from ONNX."
    route = "/ner"

    def predict(self, model: OnnxModel, texts: Sequence[str]) -> list[list[Entity]]:
        return [entities(text, tag_words(model, text)) for text in texts]

    def as_json(self, answer: list[Entity]) -> dict[str, Any]:
        return {"entities": [asdict(entity) for entity in answer]}

    def confidences(self, answer: list[Entity]) -> list[float]:
        return [entity.score for entity in answer]

    def log_output(self, answer: list[Entity]) -> dict[str, Any]:
        """How many entities of each type (never their text), and their mean score (null: none found)."""
        score = round(sum(self.confidences(answer)) / len(answer), 4) if answer else None
        return {"entities": len(answer), "types": dict(Tally(entity.type for entity in answer)), "score": score}

    def add_routes(self, app: FastAPI, settings: Settings, runner: InferenceRunner) -> None:
        app.add_middleware(PlainTextAsJson, path=self.route, body_limit=settings.max_body_bytes)
        add_texts_route(
            app,
            runner,
            route=self.route,
            name="ner",
            request_model=texts_request_model(
                "NerRequest", "tag", EXAMPLES, settings.max_text_chars, settings.max_batch
            ),
            response_model=NerResponse,
            as_json=self.as_json,
            summary="Find the named entities of one text or a batch of texts",
            description='Send `{"text": "..."}` or `{"texts": [...]}` with `Content-Type: application/json`, '
            "or one text as the body with `Content-Type: text/plain`.",
            openapi_extra={"requestBody": {"content": {PLAIN_TEXT: {"schema": plain_text_schema(settings)}}}},
        )

    def observer(self, registry: CollectorRegistry) -> Callable[[Sequence[list[Entity]]], None]:
        found = Counter("nlpops_entities", "Entities found, by type", ["type"], registry=registry)
        per_text = Histogram(
            "nlpops_entities_per_text", "Entities found in a text", buckets=ENTITY_BUCKETS, registry=registry
        )

        def observe(answers: Sequence[list[Entity]]) -> None:
            for answer in answers:
                per_text.observe(len(answer))
                for kind, count in Tally(entity.type for entity in answer).items():
                    found.labels(kind).inc(count)

        return observe

    def evaluate(self, model: OnnxModel, examples: Sequence[Any]) -> Evaluation:
        gold = [list(example.tags) for example in examples]
        check_tags_known(gold, model.labels, model.directory)
        texts, starts = [], []
        for example in examples:
            text, first_characters = joined(example.tokens)
            texts.append(text)
            starts.append(first_characters)
        words = in_batches(lambda batch: [tag_words(model, text) for text in batch], texts)
        predicted = [tags_at(w, s) for w, s in zip(words, starts, strict=True)]
        rows = [
            {"text": text, "actual": " ".join(g), "predicted": " ".join(p)}
            for text, g, p in zip(texts, gold, predicted, strict=True)
        ]
        metrics = tagging.entity_scores(gold, predicted)
        answers = [entities(text, w) for text, w in zip(texts, words, strict=True)]
        return Evaluation({f"test/{name}": value for name, value in metrics.items()}, rows, texts, answers)

    def smoke_check(self, base: str, request: SmokeRequest, ready: dict[str, Any]) -> str:
        """A sentence with obvious people and places must yield entities whose spans point at their text."""
        answer = request(f"{base}{self.route}", {"text": SMOKE_TEXT})
        predictions = answer.get("predictions")
        if not (isinstance(predictions, list) and len(predictions) == 1 and isinstance(predictions[0], dict)):
            raise SmokeTestFailed(f"POST {self.route} answered {answer}, expected one result with entities")
        found = predictions[0].get("entities")
        if not isinstance(found, list) or not found:
            raise SmokeTestFailed(f"{SMOKE_TEXT!r} got no entities ({answer}): the model is wrong")
        for entity in found:
            if not (isinstance(entity, dict) and _points_at_its_text(entity, SMOKE_TEXT)):
                raise SmokeTestFailed(f"entity {entity} does not point at its text in {SMOKE_TEXT!r}")
        return "entities " + ", ".join(f"{entity['text']} ({entity['type']})" for entity in found)


def _points_at_its_text(entity: dict[str, Any], text: str) -> bool:
    start, end = entity.get("start"), entity.get("end")
    return isinstance(start, int) and isinstance(end, int) and text[start:end] == entity.get("text") != ""


SERVING = NerServing()
