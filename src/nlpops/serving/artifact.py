"""The model artifact: the only thing export hands to serving, described by ``manifest.json``.

Export writes it and serving reads it, so the format lives here, on the side that must be able to read it
without torch. Checksums let a server refuse a truncated or swapped model file instead of serving garbage.
Each model is two files: its ONNX graph (``model.int8.onnx``) and its weights beside it (``model.int8.onnx.data``,
ONNX's external data). ONNX Runtime memory-maps the weights instead of parsing them out of the graph: a session
opens in a third of the time and the pages are shared by every process serving the same file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlpops.errors import UserError
from nlpops.utils.files import sha256_file

MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
FORMAT_VERSION = 1
TASK = "text-classification"
WEIGHTS_SUFFIX = ".data"


def weights_file(model_file: str) -> str:
    """The name of the file that holds the weights of the ONNX model ``model_file``."""
    return model_file + WEIGHTS_SUFFIX


@dataclass(frozen=True)
class Manifest:
    """What serving needs to know about an artifact, plus provenance and the export's parity metrics."""

    task: str
    labels: list[str]  # class names in logit order
    max_length: int  # tokens per text, as in training; longer texts are truncated
    opset: int
    models: dict[str, str]  # variant (fp32, int8) -> file name in the artifact
    pad_token_id: int
    checksums: dict[str, str]  # file name -> sha256 hex digest
    metrics: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def model_files(self, variant: str) -> list[str]:
        """The files the ``variant`` model runs from: its graph, then its weights (unless they are inside it)."""
        graph = self.models[variant]
        weights = weights_file(graph)
        return [graph, weights] if weights in self.checksums else [graph]

    def serving_files(self, variant: str) -> list[str]:
        """Every file that serving ``variant`` reads besides this manifest: the tokenizer, then the model's files."""
        return [TOKENIZER, *self.model_files(variant)]

    def model_version(self, variant: str) -> str:
        """12 hex digits that change with any of the ``variant`` model's files: what ``/ready`` reports.

        The sha256 of their checksums as ``sha256sum`` lists them: ``sha256sum model.int8.onnx* | sha256sum``.
        """
        listing = "".join(f"{self.checksums.get(name, '')}  {name}\n" for name in self.model_files(variant))
        return hashlib.sha256(listing.encode()).hexdigest()[:12]


def read_manifest(directory: Path) -> Manifest:
    """Load and check ``directory/manifest.json``; every problem names the file and what to do."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise UserError(
            f"no model artifact at {directory} ({MANIFEST} missing): run `python export.py` first "
            "or set NLPOPS_ARTIFACT_DIR to an exported artifact"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (ValueError, TypeError) as err:
        raise UserError(f"{path} is not a valid manifest ({err}); export the artifact again") from None
    if manifest.format_version != FORMAT_VERSION:
        raise UserError(
            f"{path} has format_version {manifest.format_version}, this code reads {FORMAT_VERSION}; re-export"
        )
    if manifest.task != TASK:
        raise UserError(f"{path} is a '{manifest.task}' artifact; this server serves '{TASK}'")
    return manifest


def verify_files(directory: Path, manifest: Manifest, names: Iterable[str]) -> None:
    """Check each of ``names`` with ``verify_file``."""
    for name in names:
        verify_file(directory, manifest, name)


def verify_file(directory: Path, manifest: Manifest, name: str) -> Path:
    """Return ``directory/name`` after checking it exists and matches the manifest's checksum."""
    path = Path(directory) / name
    if not path.is_file():
        raise UserError(f"the artifact at {directory} lacks {name}; export it again")
    expected = manifest.checksums.get(name)
    if expected is None:
        raise UserError(f"{directory}/{MANIFEST} has no checksum for {name}; export it again")
    actual = sha256_file(path)
    if actual != expected:
        raise UserError(
            f"{path} has sha256 {actual[:12]}…, the manifest says {expected[:12]}…: the file is corrupt or from "
            "another export; export again (or set NLPOPS_VERIFY_CHECKSUMS=false to skip the check)"
        )
    return path
