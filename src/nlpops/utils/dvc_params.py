"""Regenerate ``params.yaml`` from ``configs/`` exactly as ``dvc exp run -S`` does: ``make params``.

DVC composes the Hydra config named in ``.dvc/config`` (section ``hydra``) only when an experiment passes
``-S`` overrides; after editing ``configs/`` by hand, run this before ``dvc repro`` so the pipeline sees it.
Arguments are Hydra overrides: ``python -m nlpops.utils.dvc_params trainer.max_epochs=5``.
"""

from __future__ import annotations

import argparse
import os
import sys

from dvc.exceptions import DvcException
from dvc.repo import Repo
from dvc.utils.hydra import compose_and_dump
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

PARAMS_FILE = "params.yaml"


def write_params(overrides: list[str], root: str = ".") -> str:
    """Compose the pipeline config with ``overrides`` into ``params.yaml`` under the DVC repo at ``root``."""
    with Repo(root) as repo:
        settings = repo.config["hydra"]
        path = os.path.join(repo.root_dir, PARAMS_FILE)
        compose_and_dump(
            path,
            config_dir=os.path.join(repo.root_dir, settings.get("config_dir", "conf")),
            config_module=None,
            config_name=settings.get("config_name", "config"),
            plugins_path=os.path.join(repo.root_dir, settings.get("plugins_path", "")),
            overrides=overrides,
        )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate params.yaml from configs/, as `dvc exp run -S` does.")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. trainer.max_epochs=5")
    args = parser.parse_args()
    try:
        path = write_params(args.overrides)
    except (HydraException, OmegaConfBaseException, DvcException) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
