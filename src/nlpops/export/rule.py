"""What a task's export module says: how its trained model loads and traces, and what parity means for it.

The export pipeline (``pipeline.py``) is the same for every task: trace to ONNX, rewrite, check fp32 against
PyTorch, quantize with the INT8 ladder until the checks pass, write the artifact. A task's ``ExportRule``
(``nlpops.export.<task>.EXPORT``) supplies the rest, found by the task name its config carries. A task whose
model is not traced that way (text generation: ONNX Runtime GenAI's builder) is an ``OwnExport``: it runs the
whole stage itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from transformers import PreTrainedModel

from nlpops import tasks
from nlpops.export.parity import Thresholds
from nlpops.serving.core import OnnxModel

Examples = Sequence[tuple[str, Any]]  # (text, gold answer) pairs for the parity checks


class ExportRule(ABC):
    task: str  # as the manifest names it
    auto_class: Any  # the Hugging Face auto class the trained model folder loads with
    # Two texts of different lengths: the exporter keeps batch and sequence dynamic only for sizes other than 0/1.
    example_texts: tuple[str, str]
    metric: str  # the test metric INT8 may lose only a few points of (``parity.max_int8_<metric>_drop_points``)
    thresholds: type[Thresholds]

    @abstractmethod
    def wrapper(self, model: PreTrainedModel) -> torch.nn.Module:
        """The model as the exact function serving feeds, ``(input_ids, attention_mask) -> outputs``."""

    @abstractmethod
    def parity_examples(self, examples: Sequence[Any]) -> list[tuple[str, Any]]:
        """The data's examples as (text, gold answer) pairs."""

    @abstractmethod
    def check_gold(self, gold: Sequence[Any], labels: Sequence[str], model_dir: object) -> None:
        """Raise if the gold answers use labels the model cannot predict."""

    @abstractmethod
    def agreement(self, reference: Sequence[np.ndarray], other: Sequence[np.ndarray], labels: Sequence[str]) -> float:
        """Share of predictions that are the same (each text's logits, as ``parity.batched_logits`` gives them)."""

    @abstractmethod
    def score(self, core: OnnxModel, texts: Sequence[str], logits: Sequence[np.ndarray], gold: Sequence[Any]) -> float:
        """The test ``metric`` of each text's ``logits``, as a share (0 to 1), through the task's serving code."""


class OwnExport(ABC):
    """A task whose export is its own stage: ``python export.py task=...`` calls its ``run``."""

    task: str  # as the manifest names it
    auto_class: Any  # the Hugging Face auto class the trained model folder loads with

    @abstractmethod
    def run(self, cfg: DictConfig) -> dict[str, float]:
        """Export ``cfg.model_dir`` to ``cfg.artifact_dir``, checked; return the figures ``metrics_file`` records."""


def export_rule(task: str) -> ExportRule | OwnExport:
    """The export rule of ``task``."""
    return tasks.get(task).layer("export").EXPORT
