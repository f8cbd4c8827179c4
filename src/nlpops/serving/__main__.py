"""Run the API server: ``python -m nlpops.serving`` (settings from ``NLPOPS_*`` variables, see settings.py)."""

from __future__ import annotations

import copy
import os
import sys

from nlpops.errors import UserError
from nlpops.serving import preload
from nlpops.serving.settings import Settings, describe_settings

MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
USAGE = """usage: nlpops-serve  (or: python -m nlpops.serving)

Serve the model artifact over HTTP: its task's route (POST /predict for classification), GET /health, /ready,
/metrics and /docs.
Settings are environment variables (e.g. NLPOPS_PORT=8080 nlpops-serve); with their defaults:
"""


def main() -> None:
    if len(sys.argv) > 1:
        answer_arguments(sys.argv[1:])
    try:
        settings = Settings.from_env()
        if settings.workers == 1:
            preload.start(settings)  # load the model while the rest imports (worker processes load their own)
        import uvicorn  # after the preload has started: importing it is part of what the preload hides

        check_model(settings)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    scratch = None
    if settings.workers > 1 and MULTIPROC not in os.environ:
        import shutil
        import tempfile

        # each worker writes its metrics to files here and /metrics sums them, whichever worker answers
        scratch = tempfile.mkdtemp(prefix="nlpops-metrics-")
        os.environ[MULTIPROC] = scratch
    try:
        uvicorn.run(
            "nlpops.serving.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            access_log=False,  # a log line per request costs throughput; /metrics counts requests instead
            ws="none",  # no websockets: skips importing their implementation at startup
            lifespan="on",
            log_level="info",
            log_config=log_config(),
        )
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def check_model(settings: Settings) -> None:
    """Fail here, with one clear line and exit 2, if the model cannot be served.

    Inside the app's startup a failure would be a traceback (and, with several workers, uvicorn's parent
    process would exit 0 once they all failed). One process: wait for its preload, usually done by the time
    uvicorn is imported. Several: load the model here once and let it go (each worker loads its own), so that
    whatever would fail a worker's load, ONNX Runtime's own checks included, stops the parent first.
    """
    if settings.workers == 1:
        preload.wait(settings)
    else:
        preload.load_model(settings)


def log_config() -> dict:
    """uvicorn's logging, with this package's log lines (model loaded, errors) shown the same way."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["nlpops"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def answer_arguments(arguments: list[str]) -> None:
    """``--help`` prints the usage and every setting; anything else is refused (exit 2), naming the variables."""
    if arguments[0] in ("-h", "--help"):
        print(USAGE + describe_settings())
        raise SystemExit(0)
    print(
        f"error: nlpops-serve takes no arguments (got {' '.join(arguments)}): set NLPOPS_* environment variables "
        "instead, e.g. NLPOPS_PORT=8080 nlpops-serve; nlpops-serve --help lists them",
        file=sys.stderr,
    )
    raise SystemExit(2)


if __name__ == "__main__":
    main()
