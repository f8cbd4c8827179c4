"""Serving settings from ``NLPOPS_*`` environment variables.

Serving runs in images without Hydra, and containers and Lambda functions are configured through their
environment, so the server, the Lambda handler and the batch command all read the same variables here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, get_args, get_type_hints

from nlpops.errors import UserError, positive_int

PREFIX = "NLPOPS_"
VARIANTS = ("int8", "fp32")
WINDOW_STRIDE = 16  # tokens the windows of a text longer than the model's limit share (NER)
STDOUT = "-"  # NLPOPS_PREDICTION_LOG: the prediction log to stdout (Lambda: CloudWatch)
# Other tools' NLPOPS_* variables: close to a setting's name (LOCUST_TEXTS ~ LOG_TEXTS) but not misspelt ones
OTHER_TOOLS = frozenset({"NLPOPS_INDEX_URL", "NLPOPS_CACHE", "NLPOPS_LOCUST_TEXTS"})


@dataclass(frozen=True)
class Settings:
    """Every knob of the serving stack; the environment variable is ``NLPOPS_`` + the upper-cased name.

    Each annotation carries what the setting means, which ``nlpops-serve --help`` prints. A variable that is
    set but empty is an error, not the default.
    """

    artifact_dir: Annotated[Path, "the model artifact (python export.py)"] = Path("models/text-classifier-onnx")
    variant: Annotated[str, "which model of the artifact to run: int8 (fast) or fp32"] = "int8"
    intra_op_threads: Annotated[int, "ONNX Runtime threads per inference call (1: see docs/serving-performance.md)"] = 1
    inference_threads: Annotated[int, "requests predicted at once, a thread each (0: on the event loop)"] = 2
    verify_checksums: Annotated[bool, "check the model and tokenizer against the manifest's sha256"] = True
    max_text_chars: Annotated[int, "longer texts get 422; a classifier cuts tokens past the model's limit"] = 2000
    window_stride: Annotated[
        int, "NER: tokens shared by the windows a text longer than the model's limit is cut in"
    ] = WINDOW_STRIDE
    max_batch: Annotated[int, "most texts in one request"] = 64
    max_prompt_tokens: Annotated[int, "text generation: longer prompts get 422"] = 1024
    max_new_tokens: Annotated[int, "text generation: the most tokens one request may ask for"] = 512
    generation_slots: Annotated[int, "text generation: generations at once, a thread each (0: one per core)"] = 0
    generation_threads: Annotated[
        int, "text generation: ONNX Runtime threads per generation (0: one per core; see docs/generation.md)"
    ] = 0
    queue_timeout: Annotated[
        float, "text generation: seconds a request waits for a free slot before a 503 with Retry-After"
    ] = 10.0
    max_body_bytes: Annotated[int, "larger request bodies get 413 (fits 64 texts of 2000 emoji as \\u escapes)"] = (
        2_000_000
    )
    host: Annotated[str, "address to listen on (0.0.0.0: every interface)"] = "127.0.0.1"
    port: Annotated[int, "port to listen on"] = 8000
    workers: Annotated[int, "server processes; /metrics sums them (1: see docs/serving-performance.md)"] = 1
    api_base_path: Annotated[str, 'Lambda: a path prefix to strip, e.g. the HTTP API stage "/prod"'] = "/"
    model_name: Annotated[
        str | None, "the model's name in /ready and the prediction log (unset: artifact folder's, less -onnx)"
    ] = None
    model_version: Annotated[str | None, "the release's version, e.g. v1.3.0, in /ready and the prediction log"] = None
    model_stage: Annotated[str | None, "the release's stage, e.g. prod, in /ready and the prediction log"] = None
    prediction_log: Annotated[
        str | None, "a JSON line per prediction: to this size-rotated file, or - for stdout (unset: off; Lambda: -)"
    ] = None
    prediction_log_sample: Annotated[float, "share of requests whose predictions are logged, 0 to 1"] = 1.0
    prediction_log_max_bytes: Annotated[int, "the log file's size at which it rotates"] = 100_000_000
    prediction_log_backups: Annotated[int, "rotated log files kept (.1, .2, ...)"] = 5
    log_texts: Annotated[bool, "also log each text, truncated: personal data, see docs/serving.md"] = False
    log_text_chars: Annotated[int, "characters of a text logged with NLPOPS_LOG_TEXTS"] = 200

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, defaults: Mapping[str, Any] | None = None, **overrides: Any
    ) -> Settings:
        """Read the settings; ``overrides`` (keyword arguments) win over the environment, which wins over ``defaults``
        (a deployment's own defaults, e.g. Lambda's prediction log to stdout)."""
        environ = os.environ if environ is None else environ
        _refuse_misspelt_names(environ)
        values: dict[str, Any] = dict(defaults or {})
        for field in fields(cls):
            name = PREFIX + field.name.upper()
            if field.name in overrides:
                values[field.name] = overrides[field.name]
            elif name in environ:
                if not environ[name].strip():  # e.g. NLPOPS_HOST=$HOST with HOST unset: "" would bind every interface
                    default = f" ({_shown(field.default)})" if field.default is not None else ""
                    raise UserError(
                        f"environment variable {name} is set but empty: unset it for the default{default} "
                        "or give it a value"
                    )
                values[field.name] = _parse(name, environ[name], _parser(field.name))
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.variant not in VARIANTS:
            raise UserError(f"{PREFIX}VARIANT must be one of {', '.join(VARIANTS)}, got '{self.variant}'")
        positives = (
            "intra_op_threads",
            "max_text_chars",
            "max_batch",
            "max_prompt_tokens",
            "max_new_tokens",
            "max_body_bytes",
            "workers",
            "log_text_chars",
        )
        for name in (*positives, "prediction_log_max_bytes"):
            positive_int(f"{PREFIX}{name.upper()}", getattr(self, name))
        for name in (
            "window_stride",
            "inference_threads",
            "generation_slots",
            "generation_threads",
            "queue_timeout",
            "prediction_log_backups",
        ):
            if getattr(self, name) < 0:
                raise UserError(f"{PREFIX}{name.upper()} must be 0 or more, got {getattr(self, name)}")
        if self.workers > 1 and self.prediction_log not in (None, STDOUT):
            raise UserError(
                f"{PREFIX}PREDICTION_LOG: {self.workers} worker processes cannot share one rotated file; "
                f"log to stdout ({PREFIX}PREDICTION_LOG=-) or run one worker"
            )
        if not 0 <= self.prediction_log_sample <= 1:
            raise UserError(f"{PREFIX}PREDICTION_LOG_SAMPLE must be from 0 to 1, got {self.prediction_log_sample}")
        if not 0 < self.port < 65536:
            raise UserError(f"{PREFIX}PORT must be between 1 and 65535, got {self.port}")


def _refuse_misspelt_names(environ: Mapping[str, str]) -> None:
    """Refuse an ``NLPOPS_*`` variable that is not a setting but close to one: ignored, it would leave the default.

    Only near misses (``NLPOPS_VARIENT``, ``NLPOPS_MAX_BATCH_SIZE``) are refused; other ``NLPOPS_*`` variables
    belong to other tools (the asset fetcher's ``NLPOPS_INDEX_URL`` and ``NLPOPS_CACHE``, Locust's
    ``NLPOPS_LOCUST_TEXTS``).
    """
    names = sorted(field.name.upper() for field in fields(Settings))
    unknown = [
        name
        for name in environ
        if name.startswith(PREFIX) and name[len(PREFIX) :] not in names and name not in OTHER_TOOLS
    ]
    if not unknown:
        return
    import difflib  # only here: the server imports this module on its way to a cold start

    for name in sorted(unknown):
        close = difflib.get_close_matches(name[len(PREFIX) :], names, n=1, cutoff=0.65)
        if close:
            raise UserError(
                f"environment variable {name} is not a setting: did you mean {PREFIX}{close[0]}? "
                "(nlpops-serve --help lists every setting)"
            )


def describe_settings() -> str:
    """Each setting's variable, default and meaning, a line each (``nlpops-serve --help``)."""
    hints = get_type_hints(Settings, include_extras=True)
    lines = [(f"{PREFIX}{f.name.upper()}={_shown(f.default)}", hints[f.name].__metadata__[0]) for f in fields(Settings)]
    width = max(len(assignment) for assignment, _ in lines)
    return "\n".join(f"  {assignment:<{width}}  {meaning}" for assignment, meaning in lines)


def _shown(value: Any) -> str:
    """A default as it is written in the environment (``true``, not ``True``; unset: nothing)."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _parse_variant(text: str) -> str:
    return text.strip().lower()


def _parser(name: str) -> Callable[[str], Any]:
    """How the setting ``name`` is read from its variable: by its type (a new setting needs no parser of its own)."""
    if name == "variant":
        return _parse_variant
    kind = get_type_hints(Settings)[name]  # the type, without its Annotated meaning
    if isinstance(kind, UnionType):  # an optional setting (str | None): unset is None, a value its type
        [kind] = [arg for arg in get_args(kind) if arg is not type(None)]
    return _parse_bool if kind is bool else kind


def _parse(name: str, text: str, parser: Callable[[str], Any]) -> Any:
    try:
        return parser(text)
    except ValueError as err:
        raise UserError(f"environment variable {name}={text!r} is invalid ({err})") from None
