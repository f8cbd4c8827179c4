"""The tiny pipeline, reproduced once per session and shared by the pipeline and remote tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.workspace import dvc, make_workspace, stages_run

BRANCHES = ("classification", "ner", "generation")
STAGES = ("prepare", "train", "export", "evaluate")
REPORTS = tuple(
    f"reports/{branch}/{name}"
    for branch in BRANCHES
    for name in ("train.json", "evaluate.json", "history.csv", "test_predictions.csv")
)


@pytest.fixture(scope="session")
def reproduced(tiny_pretrained: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A workspace after one full ``dvc repro`` (which must run every stage), and the reports it wrote."""
    root = make_workspace(tmp_path_factory.mktemp("pipeline"), tiny_pretrained)
    result = dvc(root, "repro")
    ran = stages_run(result.stdout)
    assert sorted(ran) == sorted(f"{stage}@{branch}" for stage in STAGES for branch in BRANCHES)
    for branch in BRANCHES:  # each branch in its own order (DVC may interleave them)
        assert [name for name in ran if name.endswith(f"@{branch}")] == [f"{stage}@{branch}" for stage in STAGES]
    return root, {name: (root / name).read_text() for name in REPORTS}
