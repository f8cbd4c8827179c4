"""Prediction-log lines → the columns drift is measured on.

The server, the Lambda function, the batch command and the evaluate stage write one JSON object per text
(``nlpops.serving.prediction_log``); the evaluate stage's, over the test split, is the reference. Standard
library only, so bad logs are caught before the Evidently environment is needed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlpops import tasks
from nlpops.errors import UserError

NUMERICAL = "numerical"
CATEGORICAL = "categorical"
NO_ENTITY = "none"  # the entity type of a text the tagger found nothing in

Value = float | str | None


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # NUMERICAL or CATEGORICAL: which statistical tests Evidently picks for it
    value: Callable[[dict[str, Any]], Value]  # from one log record; KeyError/TypeError/ValueError: malformed


def _count(record: dict[str, Any], key: str) -> int:
    """A count the writer always fills: a non-negative int (a bool or a string is a malformed record)."""
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a count: {value!r}")
    return value


def _unknown_share(record: dict[str, Any]) -> float:
    """Unknown tokens per token: text the tokenizer (and so the model) cannot read."""
    unknown, tokens = _count(record, "unknown_tokens"), _count(record, "tokens")
    return unknown / tokens if tokens else 0.0


def _score(record: dict[str, Any]) -> float | None:
    """The model's confidence; None where it has none (a text with no entity)."""
    score = record["output"]["score"]
    if score is not None and not isinstance(score, int | float):
        raise ValueError(f"score is not a number: {score!r}")
    return None if score is None else float(score)


def _main_entity_type(record: dict[str, Any]) -> str:
    """The type the tagger found most often in the text (ties: alphabetical), so type shares can drift."""
    types: dict[str, int] = record["output"]["types"]
    return min(types.items(), key=lambda item: (-item[1], item[0]))[0] if types else NO_ENTITY


_INPUT_COLUMNS = (
    Column("confidence", NUMERICAL, _score),
    Column("chars", NUMERICAL, lambda record: _count(record, "chars")),
    Column("tokens", NUMERICAL, lambda record: _count(record, "tokens")),
    Column("unknown_share", NUMERICAL, _unknown_share),
)
COLUMNS: dict[str, tuple[Column, ...]] = {
    tasks.CLASSIFICATION: (
        Column("label", CATEGORICAL, lambda record: str(record["output"]["label"])),
        *_INPUT_COLUMNS,
    ),
    tasks.TOKEN_CLASSIFICATION: (
        Column("entities", NUMERICAL, lambda record: _count(record["output"], "entities")),
        Column("entity_type", CATEGORICAL, _main_entity_type),
        *_INPUT_COLUMNS,
    ),
}


@dataclass
class PredictionLog:
    """The predictions of one model read from a source, and what was skipped on the way (reason → lines)."""

    source: str
    model: str
    task: str
    rows: list[dict[str, Value]] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS[self.task]

    def table(self) -> dict[str, list[Value]]:
        """Column name → values, in row order: what a data frame is built from."""
        return {column.name: [row[column.name] for row in self.rows] for column in self.columns()}

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "model": self.model,
            "task": self.task,
            "rows": len(self.rows),
            "versions": dict(self.versions),
            "skipped": dict(self.skipped),
        }


def _record(line: str) -> dict[str, Any] | str:
    """The log record on ``line``, or why it is none (the reason it is skipped and counted under)."""
    try:
        record = json.loads(line)
    except ValueError:
        return "not JSON"
    if not isinstance(record, dict) or not {"model", "task", "output"} <= record.keys():
        return "not a prediction record"
    if record["task"] not in COLUMNS:
        return f"task {record['task']!r} not monitored"
    return record


def _row(record: dict[str, Any]) -> dict[str, Value] | None:
    try:
        return {column.name: column.value(record) for column in COLUMNS[record["task"]]}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _parse(lines: Iterable[str]) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Every prediction record of ``lines``; the others are counted by reason (a bad line is never fatal)."""
    records, skipped = [], Counter[str]()
    for line in lines:
        if not line.strip():
            continue
        record = _record(line)
        if isinstance(record, str):
            skipped[record] += 1
        else:
            records.append(record)
    return records, skipped


def read_predictions(lines: Iterable[str], source: str, model: tuple[str, str] | None = None) -> PredictionLog:
    """The predictions of ``model`` (name, task) in ``lines``; without one, of the model most lines are from.

    Lines of other models are skipped and counted: the current log is compared with one model's reference.
    """
    records, skipped = _parse(lines)
    if model is None:
        found = Counter((str(record["model"]), record["task"]) for record in records)
        if not found:
            raise UserError(f"{source} holds no prediction records ({_skipped_text(skipped)})")
        model = found.most_common(1)[0][0]
    log = PredictionLog(source, *model, skipped=skipped)
    for record in records:
        if (str(record["model"]), record["task"]) != model:
            log.skipped[f"model {record['model']} ({record['task']})"] += 1  # says which, if the names differ
        elif (row := _row(record)) is None:
            log.skipped["malformed prediction record"] += 1
        else:
            log.rows.append(row)
            log.versions[str(record.get("version") or "unversioned")] += 1
    return log


def read_lines(path: Path) -> list[str]:
    """The lines of a prediction log file; a missing or unreadable file is the user's error, not a traceback."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        raise UserError(f"no prediction log at {path}") from None
    except OSError as err:
        raise UserError(f"cannot read prediction log {path}: {err.strerror or err}") from None


def _skipped_text(skipped: Counter[str]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in skipped.most_common()) or "it is empty"
