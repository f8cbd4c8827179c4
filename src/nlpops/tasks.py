"""The ML tasks the template knows, by the name a model's record and its artifact's manifest carry.

Training, export and serving each keep one module per task, named alike in every layer
(``nlpops.data.<module>``, ``nlpops.models.<module>``, ``nlpops.export.<module>``, ``nlpops.serving.<module>``) and
one config (``configs/task/<config>.yaml``). This registry is the one place that lists them: adding a task is
its modules, its config and one line here. Standard library only: the server imports it on its way to a cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import ModuleType

from nlpops.errors import UserError

CLASSIFICATION = "text-classification"
TOKEN_CLASSIFICATION = "token-classification"
TEXT_GENERATION = "text-generation"


@dataclass(frozen=True)
class Task:
    name: str  # as the model record and the artifact manifest carry it
    module: str  # the task's module in each layer: nlpops.<layer>.<module>
    config: str  # its config, picked with `task=<config>`: configs/task/<config>.yaml
    labelled: bool = True  # its models name their classes (a manifest's ``labels``); a language model has none

    def layer(self, layer: str) -> ModuleType:
        """This task's module of ``layer`` (``export`` or ``serving``), imported on first use."""
        return import_module(f"nlpops.{layer}.{self.module}")


TASKS = {
    task.name: task
    for task in (
        Task(CLASSIFICATION, module="classification", config="classification"),
        Task(TOKEN_CLASSIFICATION, module="ner", config="ner"),
        Task(TEXT_GENERATION, module="generation", config="generation", labelled=False),
    )
}


def get(name: str) -> Task:
    """The task called ``name``; a clear error for one this code does not know (an artifact from a newer version)."""
    try:
        return TASKS[name]
    except KeyError:
        raise UserError(f"unknown task '{name}': this version knows {', '.join(sorted(TASKS))}") from None
