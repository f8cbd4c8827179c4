"""The contract between the shared serving stack and a task's serving module, and how the server finds it.

The app, the Lambda handler, the batch command, the evaluation and the deploy smoke test are the same for every
task; what differs (what a prediction is, its route and schemas, its Prometheus observations, what a right
answer looks like after a deploy) is a ``TaskServing`` in ``nlpops.serving.<task>``, found by the task name the
artifact's manifest carries (``serving_for``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nlpops import tasks

if TYPE_CHECKING:
    from fastapi import FastAPI
    from prometheus_client import CollectorRegistry

    from nlpops.serving.core import OnnxModel
    from nlpops.serving.runtime import InferenceRunner
    from nlpops.serving.settings import Settings

Request = Callable[..., dict[str, Any]]  # (url, payload=None) -> the JSON object of a 200 answer


class SmokeTestFailed(Exception):
    """A deployed API answered wrongly, or not at all before the deadline."""


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    rows: list[dict[str, str]]  # one per test example, for the predictions file (e.g. actual,predicted)
    texts: list[str]  # the test texts as served, and the answers serving gave them: the drift reference
    answers: list[Any]


class TaskServing(ABC):
    """One task's part of serving; its module defines one instance, ``SERVING``."""

    title: str  # of the API, in /docs
    summary: str
    route: str  # the task's POST route; Lambda's direct invokes are sent there
    input_field = "text"  # what the batch command's output lines call each input (a language model: prompt)

    @abstractmethod
    def predict(self, model: OnnxModel, texts: Sequence[str]) -> list[Any]:
        """One answer per text, in order: the task's post-processing of the model's outputs."""

    @abstractmethod
    def as_json(self, answer: Any) -> dict[str, Any]:
        """An answer as the API returns it and the batch command writes it."""

    @abstractmethod
    def confidences(self, answer: Any) -> Iterable[float]:
        """How sure the model is of an answer, a probability per decision (``nlpops_prediction_confidence``)."""

    @abstractmethod
    def log_output(self, answer: Any) -> dict[str, Any]:
        """An answer summed up for the prediction log's ``output``: small, and no text of the request's."""

    @abstractmethod
    def add_routes(self, app: FastAPI, settings: Settings, runner: InferenceRunner) -> None:
        """Add the task's routes to ``app``; ``runner`` predicts off the event loop and records the metrics.

        Added to the app itself, not as an included ``APIRouter``: FastAPI dispatches an included router as a
        nested one, a step more on the hot path, and routes the metrics middleware could not match afterwards.
        """

    @abstractmethod
    def observer(self, registry: CollectorRegistry) -> Callable[[Sequence[Any]], None]:
        """The task's Prometheus metrics, registered in ``registry``, and the function that records answers."""

    @abstractmethod
    def evaluate(self, model: OnnxModel, examples: Sequence[Any]) -> Evaluation:
        """Test metrics of ``model`` on the data's test examples, through this very serving code."""

    @abstractmethod
    def smoke_check(self, base: str, request: Request, ready: dict[str, Any]) -> str:
        """Check a deployed API at ``base`` with real requests; raise ``SmokeTestFailed`` or describe what passed."""


def serving_for(task: str) -> TaskServing:
    """The serving part of ``task`` (a manifest's ``task``)."""
    return tasks.get(task).layer("serving").SERVING
