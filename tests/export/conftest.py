"""Session fixtures for the export tests (the same builders and cache as tests/serving)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serving.artifacts import build_tiny_artifact, build_tiny_classifier


@pytest.fixture(scope="session")
def tiny_classifier(tiny_pretrained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_classifier(tiny_pretrained, tmp_path_factory.getbasetemp() / "tiny-classifier")


@pytest.fixture(scope="session")
def tiny_artifact(tiny_classifier: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only by convention: tests that damage an artifact copy it first."""
    return build_tiny_artifact(tiny_classifier, tmp_path_factory.getbasetemp() / "tiny-artifact")
