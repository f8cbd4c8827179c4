"""The HTTP contract every task shares (pydantic): texts in, model and error bodies out; a task adds its answers.

The request model is built from the settings so the configured limits are enforced by validation and
published in the OpenAPI schema (``maxLength``, ``maxItems``) instead of living in the docs only. The schema
states the whole contract (exactly one of ``text`` or ``texts``, no nulls, no blank texts), so a client generated
from it, or a fuzzer reading it, sends what the server accepts (``tests/serving/test_api_contract.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

# A text must have a visible character: one that is not whitespace, a control or an invisible format character
# (zero-width space, byte order mark, ...; Unicode's Z*, Cc and Cf in the BMP). The tokenizer drops all of
# these, so a text of nothing else would be classified as if it were empty. The schema publishes this very
# pattern and the server enforces it, so the two agree on every text: it names its characters one by one,
# which JSON Schema's ECMAScript regexes and Python's read alike (their \s and \S differ).
NOT_BLANK = (
    r"[^\u0000-\u0020\u007f-\u00a0\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u1680\u180e"
    r"\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff\ufff9-\ufffb]"
)
_VISIBLE = re.compile(NOT_BLANK)


def _not_blank(verb: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not _VISIBLE.search(text):
            raise ValueError(
                f"text is empty or has only whitespace, control or invisible characters; send some words to {verb}"
            )
        return text

    return check


def _publish_the_contract(examples: Sequence[str]) -> Callable[[dict[str, Any]], None]:
    """Exactly one of the two fields, and no ``default: null`` (a null is refused, not taken as absent)."""

    def publish(schema: dict[str, Any]) -> None:
        for field in schema["properties"].values():
            field.pop("default", None)
        schema["oneOf"] = [{"required": ["text"]}, {"required": ["texts"]}]
        schema["examples"] = [{"text": examples[0]}, {"texts": list(examples)}]

    return publish


class TextsRequest(BaseModel):
    """``{"text": "..."}`` or ``{"texts": [...]}``; ``texts_request_model`` adds the fields with their limits."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _one_of_text_or_texts(self) -> TextsRequest:
        has_text, has_texts = getattr(self, "text", None) is not None, getattr(self, "texts", None) is not None
        if has_text == has_texts:
            raise ValueError('send exactly one of "text" (a string) or "texts" (a list of strings)')
        return self

    @property
    def items(self) -> list[str]:
        text: str | None = getattr(self, "text", None)
        return [text] if text is not None else list(getattr(self, "texts", None) or [])


def texts_request_model(
    name: str, verb: str, examples: Sequence[str], max_text_chars: int, max_batch: int
) -> type[TextsRequest]:
    """The request model ``name``: one text or a batch, strict strings, non-blank, within the limits.

    ``verb`` says what the task does to a text (``classify``), ``examples`` are texts the schema shows.
    """
    text = Annotated[
        str,
        StringConstraints(strict=True, min_length=1, max_length=max_text_chars),
        AfterValidator(_not_blank(verb)),
        Field(json_schema_extra={"pattern": NOT_BLANK}),
    ]
    # Absent fields default to None, but an explicit null is a type error: the types admit no None.
    return create_model(
        name,
        __base__=TextsRequest,
        __config__=ConfigDict(extra="forbid", json_schema_extra=_publish_the_contract(examples)),
        text=(text, Field(None, description=f"One text to {verb} (at most {max_text_chars} characters)")),
        texts=(
            list[text],
            Field(None, min_length=1, max_length=max_batch, description=f"Up to {max_batch} texts to {verb}"),
        ),
    )


class ModelOut(BaseModel):
    variant: str = Field(description="int8 or fp32")
    version: str = Field(
        description="12 hex digits that change with the model's files: `sha256sum model.int8.onnx* | sha256sum`"
    )


class ErrorDetail(BaseModel):
    field: str = Field(description="Where the problem is, e.g. `texts.2`")
    problem: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer has this shape; ``message`` says what to change."""

    error: str = Field(description="Machine-readable code, e.g. invalid_request")
    message: str = Field(description="What is wrong and how to fix it")
    details: list[ErrorDetail] = Field(default_factory=list)


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    model: ModelOut
    labels: list[str]
