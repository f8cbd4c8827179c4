"""Build the artifact's manifest: what serving needs (labels, max length, files, checksums) plus provenance.

Provenance (source folder and commit, library versions, parity metrics, the training record) answers "which
model is this and how good is it" from the artifact alone, months later, without the training logs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nlpops.serving.artifact import MANIFEST, Manifest
from nlpops.utils.files import sha256_file
from nlpops.utils.provenance import git_commit, now, versions

LIBRARIES = ("torch", "transformers", "onnx", "onnxscript", "onnxruntime", "tokenizers")


def build_manifest(
    task: str,
    directory: Path,
    labels: list[str],
    max_length: int,
    opset: int,
    models: dict[str, str],
    pad_token_id: int,
    metrics: dict[str, Any],
    source_dir: Path,
    provenance: dict[str, Any] | None = None,
) -> Manifest:
    """Checksum every file already in ``directory`` (except the manifest) and describe the artifact."""
    files = [path for path in sorted(Path(directory).iterdir()) if path.is_file() and path.name != MANIFEST]
    checksums = {path.name: sha256_file(path) for path in files}
    return Manifest(
        task=task,
        labels=labels,
        max_length=max_length,
        opset=opset,
        models=models,
        pad_token_id=pad_token_id,
        checksums=checksums,
        metrics=metrics,
        source=source_info(source_dir) | (provenance or {}),
    )


def source_info(source_dir: Path) -> dict[str, Any]:
    """The trained model this artifact comes from, with its training record (``train.py``'s manifest)."""
    weights = Path(source_dir) / "model.safetensors"
    record = Path(source_dir) / MANIFEST
    return {
        "model_dir": str(Path(source_dir).resolve()),
        "model_sha256": sha256_file(weights) if weights.is_file() else None,
        "git_commit": git_commit(),
        "exported_at": now(),
        "versions": versions(*LIBRARIES),
        "training": json.loads(record.read_text()) if record.is_file() else None,
    }
