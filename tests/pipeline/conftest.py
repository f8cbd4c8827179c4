"""The tiny pipeline, reproduced once per session and shared by the pipeline and remote tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.workspace import dvc, make_workspace, stages_run

STAGES = ["prepare", "train", "export", "evaluate"]
REPORTS = ("reports/train.json", "reports/evaluate.json", "reports/history.csv", "reports/test_predictions.csv")


@pytest.fixture(scope="session")
def reproduced(tiny_pretrained: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A workspace after one full ``dvc repro`` (which must run every stage), and the reports it wrote."""
    root = make_workspace(tmp_path_factory.mktemp("pipeline"), tiny_pretrained)
    result = dvc(root, "repro")
    assert stages_run(result.stdout) == STAGES
    return root, {name: (root / name).read_text() for name in REPORTS}
