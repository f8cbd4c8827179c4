"""The task registry: one name per ML task, the same for training, export and serving, and each layer's module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nlpops import tasks
from nlpops.errors import UserError
from nlpops.export.rule import ExportRule, OwnExport, export_rule
from nlpops.serving.app import create_app
from nlpops.serving.artifact import MANIFEST
from nlpops.serving.core import OnnxModel
from nlpops.serving.settings import Settings
from nlpops.serving.task import TaskServing, serving_for
from tests.cli import REPO_ROOT, run_python_json

TORCH_FREE = """
import json, sys
from nlpops import tasks
from nlpops.serving.task import serving_for
serving_for(tasks.CLASSIFICATION)
print(json.dumps(sorted(name for name in ("torch", "lightning", "hydra", "transformers") if name in sys.modules)))
"""


@pytest.mark.parametrize("task", sorted(tasks.TASKS))
def test_every_task_has_its_module_in_each_layer_and_its_config(task: str) -> None:
    entry = tasks.get(task)
    assert isinstance(serving_for(task), TaskServing)
    rule = export_rule(task)
    assert isinstance(rule, ExportRule | OwnExport) and rule.task == task
    config = REPO_ROOT / "configs" / "task" / f"{entry.config}.yaml"
    assert config.is_file()
    for layer in ("data", "models"):
        assert (REPO_ROOT / "src" / "nlpops" / layer / f"{entry.module}.py").is_file()


def test_an_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(UserError, match=r"unknown task 'summarization': this version knows text-classification"):
        tasks.get("summarization")


def test_the_task_registry_and_the_serving_side_import_no_training_library() -> None:
    assert run_python_json(TORCH_FREE) == []


def test_an_artifact_of_a_task_this_version_does_not_serve_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps(manifest | {"task": "summarization"}))
    with pytest.raises(UserError, match=r"is a 'summarization' artifact; this version serves text-classification"):
        OnnxModel.load(copy)


def test_the_artifacts_task_decides_the_apps_routes(tiny_artifact: Path) -> None:
    app = create_app(Settings(artifact_dir=tiny_artifact))
    with TestClient(app) as client:
        assert client.post(serving_for(tasks.CLASSIFICATION).route, json={"text": "a witty film"}).status_code == 200
    assert app.title == serving_for(tasks.CLASSIFICATION).title


def test_the_core_keeps_each_tokens_character_offsets(tiny_artifact: Path) -> None:
    """What NER needs to point entities back into the text, emoji included."""
    text = "a witty 🎬 film"
    [encoding] = OnnxModel.load(tiny_artifact).tokenize([text])
    words = [text[start:end] for start, end in encoding.offsets if end > start]
    assert "witty" in words and "film" in words
