"""Run the API server: ``python -m nlpops.serving`` (settings from ``NLPOPS_*`` variables, see settings.py)."""

from __future__ import annotations

import sys

import uvicorn

from nlpops.errors import UserError
from nlpops.serving.artifact import read_manifest
from nlpops.serving.settings import Settings


def main() -> None:
    try:
        settings = Settings.from_env()
        read_manifest(settings.artifact_dir)  # fail here with one clear line, not a traceback from each worker
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(
        "nlpops.serving.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,  # one log line per request costs ~10% throughput; /metrics counts requests instead
        log_level="info",
    )


if __name__ == "__main__":
    main()
