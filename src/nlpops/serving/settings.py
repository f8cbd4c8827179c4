"""Serving settings from ``NLPOPS_*`` environment variables.

Serving runs in images without Hydra, and containers and Lambda functions are configured through their
environment, so the server, the Lambda handler and the batch command all read the same variables here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from nlpops.errors import UserError, positive_int

PREFIX = "NLPOPS_"
VARIANTS = ("int8", "fp32")


@dataclass(frozen=True)
class Settings:
    """Every knob of the serving stack; the environment variable is ``NLPOPS_`` + the upper-cased name."""

    artifact_dir: Path = Path("models/text-classifier-onnx")  # written by `python export.py`
    variant: str = "int8"  # which model of the artifact to run: int8 (fast) or fp32
    intra_op_threads: int = 1  # ONNX Runtime threads per inference call (see README: 1 wins on 2 cores)
    inference_threads: int = 2  # requests predicted at once, one thread each (0: on the event loop)
    verify_checksums: bool = True  # check the model and tokenizer against the manifest's sha256 at load
    max_text_chars: int = 2000  # longer texts are rejected (422); tokens beyond the model's limit are cut
    max_batch: int = 64  # most texts in one request
    max_body_bytes: int = 1_000_000  # larger request bodies are rejected (413)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # uvicorn worker processes; /metrics sums them (1 measured best on 2 cores)
    api_base_path: str = "/"  # Lambda: a path prefix to strip, e.g. the HTTP API stage "/prod"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the settings; ``overrides`` (keyword arguments) win over the environment."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            name = PREFIX + field.name.upper()
            if field.name in overrides:
                values[field.name] = overrides[field.name]
            elif name in environ:
                values[field.name] = _parse(name, environ[name], _PARSERS[field.name])
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.variant not in VARIANTS:
            raise UserError(f"{PREFIX}VARIANT must be one of {', '.join(VARIANTS)}, got '{self.variant}'")
        for name in ("intra_op_threads", "max_text_chars", "max_batch", "max_body_bytes", "workers"):
            positive_int(f"{PREFIX}{name.upper()}", getattr(self, name))
        if self.inference_threads < 0:
            raise UserError(f"{PREFIX}INFERENCE_THREADS must be 0 or more, got {self.inference_threads}")
        if not 0 < self.port < 65536:
            raise UserError(f"{PREFIX}PORT must be between 1 and 65535, got {self.port}")


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


_PARSERS: dict[str, Callable[[str], Any]] = {
    "artifact_dir": Path,
    "variant": lambda text: text.strip().lower(),
    "intra_op_threads": int,
    "inference_threads": int,
    "verify_checksums": _parse_bool,
    "max_text_chars": int,
    "max_batch": int,
    "max_body_bytes": int,
    "host": str,
    "port": int,
    "workers": int,
    "api_base_path": str,
}


def _parse(name: str, text: str, parser: Callable[[str], Any]) -> Any:
    try:
        return parser(text)
    except ValueError as err:
        raise UserError(f"environment variable {name}={text!r} is invalid ({err})") from None
