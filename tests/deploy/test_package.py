"""`python -m nlpops.deploy package`: the artifact reduced to one model for an image, as the image build runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nlpops.deploy.package import package_artifact
from nlpops.errors import UserError
from nlpops.serving.classification import SERVING
from nlpops.serving.core import OnnxModel
from tests.cli import REPO_ROOT

TEXTS = ["a brilliant and charming movie", "a dull and tedious film", "the cast is sharp"]


def test_the_packaged_artifact_serves_its_variant_exactly_like_the_original(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    names = package_artifact(tiny_artifact, tmp_path / "model", "int8")
    assert sorted(names) == sorted(path.name for path in (tmp_path / "model").iterdir())
    assert set(names) == {"manifest.json", "tokenizer.json", "model.int8.onnx", "model.int8.onnx.data"}
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["models"] == {"int8": "model.int8.onnx"}
    assert set(manifest["checksums"]) == {"tokenizer.json", "model.int8.onnx", "model.int8.onnx.data"}

    packaged = OnnxModel.load(tmp_path / "model", "int8")
    original = OnnxModel.load(tiny_artifact, "int8")
    assert SERVING.predict(packaged, TEXTS) == SERVING.predict(original, TEXTS)
    with pytest.raises(UserError, match=r"has no 'fp32' model \(it has \['int8'\]\)"):
        OnnxModel.load(tmp_path / "model", "fp32")


@pytest.mark.parametrize("name", ["model.int8.onnx", "model.int8.onnx.data"])
def test_a_corrupt_model_fails_the_packaging_and_writes_nothing(tiny_artifact: Path, tmp_path: Path, name: str) -> None:
    damaged = shutil.copytree(tiny_artifact, tmp_path / "damaged")
    with (damaged / name).open("ab") as file:
        file.write(b"\0")
    with pytest.raises(UserError, match=rf"{re.escape(name)} has sha256"):
        package_artifact(damaged, tmp_path / "model", "int8")
    assert not (tmp_path / "model").exists()


def test_an_unknown_variant_or_a_used_folder_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no 'fp16' model \(it has \['fp32', 'int8'\]\)$"):
        package_artifact(tiny_artifact, tmp_path / "model", "fp16")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "old.onnx").write_bytes(b"")
    with pytest.raises(UserError, match="is not an empty folder"):
        package_artifact(tiny_artifact, tmp_path / "used", "int8")


def test_a_target_that_cannot_be_a_folder_is_one_clear_error(tiny_artifact: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UserError, match="a-file is not an empty folder"):
        package_artifact(tiny_artifact, tmp_path / "a-file", "int8")
    with pytest.raises(UserError, match=r"cannot write the package to .*a-file/model: Not a directory"):
        package_artifact(tiny_artifact, tmp_path / "a-file" / "model", "int8")


def test_the_command_runs_on_the_standard_library_alone(tiny_artifact: Path, tmp_path: Path) -> None:
    """As in the image build: from the source tree (PYTHONPATH=src), before any dependency is installed."""
    command = [sys.executable, "-S", "-m", "nlpops.deploy", "package", str(tiny_artifact), str(tmp_path / "model")]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}  # -S: no site-packages at all
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    packaged = "manifest.json, tokenizer.json, model.int8.onnx, model.int8.onnx.data"
    assert done.stdout.startswith(f"packaged int8: {packaged} ->")

    missing = subprocess.run(
        [*command[:-2], str(tmp_path), str(tmp_path / "x")], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no model artifact at") and missing.stderr.count("\n") == 1
