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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlpops import tasks
from nlpops.errors import UserError
from nlpops.utils.files import sha256_file
from nlpops.utils.provenance import MANIFEST

TOKENIZER = "tokenizer.json"
FORMAT_VERSION = 1
WEIGHTS_SUFFIX = ".data"
# Variants whose answer for a text depends on the other texts of its ONNX Runtime call: dynamic INT8 scales
# activations by the whole input. The core runs them one text per call, so a text gets the same answer alone
# or in any batch, as the export's INT8 checks measured it (and one text a call is also the faster on CPU).
ONE_TEXT_PER_CALL = frozenset({"int8"})


def weights_file(model_file: str) -> str:
    """The name of the file that holds the weights of the ONNX model ``model_file``."""
    return model_file + WEIGHTS_SUFFIX


@dataclass(frozen=True)
class Manifest:
    """What serving needs to know about an artifact, plus provenance and the export's parity metrics."""

    task: str
    labels: list[str]  # class names in logit order; empty for a task without classes (text generation)
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


def _is_int(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _is_file_name(value: Any) -> bool:
    """A plain file name: the artifact is one folder, and its manifest must not point out of it."""
    return isinstance(value, str) and value not in ("", ".", "..") and "/" not in value and "\\" not in value


def _is_str_map(value: Any, key: Callable[[Any], bool], item: Callable[[Any], bool]) -> bool:
    return isinstance(value, dict) and all(key(k) and item(v) for k, v in value.items())


def _is_labels(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(label, str) and label for label in value)
        and len(set(value)) == len(value)
    )


# What each manifest field must hold, and how to say it.
_EXPECTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "labels": (_is_labels, "a list of at least 2 distinct, non-empty class names"),
    "max_length": (lambda v: _is_int(v, 1), "a positive integer"),
    "opset": (lambda v: _is_int(v, 1), "a positive integer"),
    "models": (
        lambda v: bool(v) and _is_str_map(v, lambda k: isinstance(k, str), _is_file_name),
        "an object naming each variant's model file in the artifact",
    ),
    "pad_token_id": (lambda v: _is_int(v, 0), "a token id (an integer of 0 or more)"),
    "checksums": (
        lambda v: _is_str_map(v, _is_file_name, lambda d: isinstance(d, str)),
        "an object of file names and sha256 digests",
    ),
    "metrics": (lambda v: isinstance(v, dict), "an object"),
    "source": (lambda v: isinstance(v, dict), "an object"),
}

_NO_LABELS = {"labels": (lambda v: v == [], "an empty list: this task's models have no classes")}


def artifact_task(directory: Path) -> str:
    """The task the artifact at ``directory`` names, read before the model loads: which model class loads it and
    which routes the app has depend on it.

    An artifact that cannot be read yet gets the default task; loading it fails the startup anyway.
    """
    try:
        task = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))["task"]
    except (OSError, ValueError, KeyError, TypeError):
        return tasks.CLASSIFICATION
    return task if isinstance(task, str) else tasks.CLASSIFICATION


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
            f"{path} has format_version {manifest.format_version!r}, this code reads {FORMAT_VERSION}; re-export"
        )
    if manifest.task not in tasks.TASKS:
        raise UserError(f"{path} is a '{manifest.task}' artifact; this version serves {', '.join(sorted(tasks.TASKS))}")
    expected = _EXPECTED if tasks.get(manifest.task).labelled else _EXPECTED | _NO_LABELS
    problems = [
        f"{name} must be {expectation}, not {getattr(manifest, name)!r}"
        for name, (valid, expectation) in expected.items()
        if not valid(getattr(manifest, name))
    ]
    if problems:
        raise UserError(f"{path} is not a valid manifest: {'; '.join(problems)}; export the artifact again")
    return manifest


def check_variant(directory: Path, manifest: Manifest, variant: str) -> None:
    """Raise unless the artifact has a ``variant`` model."""
    if variant not in manifest.models:
        raise UserError(f"the artifact at {directory} has no '{variant}' model (it has {sorted(manifest.models)})")


def check_artifact(directory: Path, variant: str, verify_checksums: bool = True) -> Manifest:
    """Check all that serving ``variant`` reads, without loading it: the manifest, and every file it names.

    The files must exist and, with ``verify_checksums``, match their checksums. For a tool that must fail fast
    on an artifact it will load later or elsewhere (the benchmarks, before their slow data loading).
    """
    manifest = read_manifest(directory)
    check_variant(directory, manifest, variant)
    verify_files(directory, manifest, manifest.serving_files(variant), checksums=verify_checksums)
    return manifest


def verify_files(directory: Path, manifest: Manifest, names: Iterable[str], checksums: bool = True) -> None:
    """Check each of ``names`` with ``verify_file``."""
    for name in names:
        verify_file(directory, manifest, name, checksum=checksums)


def verify_file(directory: Path, manifest: Manifest, name: str, checksum: bool = True) -> Path:
    """Return ``directory/name`` after checking it exists and (with ``checksum``) matches the manifest's."""
    path = Path(directory) / name
    if not path.is_file():
        raise UserError(f"the artifact at {directory} lacks {name}; export it again")
    if not checksum:
        return path
    expected = manifest.checksums.get(name)
    if expected is None:
        raise UserError(f"{directory}/{MANIFEST} has no checksum for {name}; export it again")
    actual = sha256_file(path)
    if actual != expected:
        raise UserError(
            f"{path} has sha256 {actual[:12]}…, the manifest says {expected[:12]}…: the file is corrupt or from "
            "another export; export again"
        )
    return path
