"""Shared fixtures: a tiny pretrained model folder and a toy CSV dataset, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import save_tiny_pretrained, tiny_overrides, toy_reviews, write_csv


@pytest.fixture(scope="session")
def tiny_pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local 'pretrained' folder (random 2-layer BERT + tokenizer), loaded like any HF model folder."""
    return save_tiny_pretrained(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def toy_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 toy reviews in columns review,sentiment with labels fresh/rotten."""
    return write_csv(tmp_path_factory.mktemp("data") / "reviews.csv", toy_reviews())


@pytest.fixture
def tiny_args(tiny_pretrained: Path, toy_csv: Path, tmp_path: Path) -> list[str]:
    """Command-line overrides for a tiny training run writing into this test's tmp_path."""
    return tiny_overrides(tiny_pretrained, toy_csv, tmp_path)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_pretrained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model saved as a fine-tuned classifier folder, as train.py publishes one."""
    from tests.serving.artifacts import build_tiny_classifier

    return build_tiny_classifier(tiny_pretrained, tmp_path_factory.getbasetemp() / "tiny-classifier")


@pytest.fixture(scope="session")
def tiny_artifact(tiny_classifier: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny classifier exported as a serving artifact. Read-only by convention: tests that damage one copy it."""
    from tests.serving.artifacts import build_tiny_artifact

    return build_tiny_artifact(tiny_classifier, tmp_path_factory.getbasetemp() / "tiny-artifact")


@pytest.fixture(scope="session")
def tiny_tagger(tiny_pretrained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model fine-tuned a few seconds as a token classifier (NER) on a handful of names."""
    from tests.ner_artifacts import build_tiny_tagger

    return build_tiny_tagger(tiny_pretrained, tmp_path_factory.getbasetemp() / "tiny-tagger")


@pytest.fixture(scope="session")
def tiny_ner_artifact(tiny_tagger: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny tagger exported as a NER serving artifact. Read-only by convention."""
    from tests.ner_artifacts import build_tiny_ner_artifact

    return build_tiny_ner_artifact(tiny_tagger, tmp_path_factory.getbasetemp() / "tiny-ner-artifact")


@pytest.fixture(scope="session")
def tiny_generation_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama exported as a text-generation artifact (ONNX Runtime GenAI, int8). Read-only."""
    from tests.serving.generation_artifacts import build_tiny_generation_artifact

    return build_tiny_generation_artifact(tmp_path_factory.getbasetemp() / "tiny-generator-onnx")
