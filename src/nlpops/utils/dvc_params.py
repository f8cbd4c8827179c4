"""Regenerate the pipeline's params files from ``configs/`` exactly as ``dvc exp run -S`` does: ``make params``.

DVC composes the Hydra config named in ``.dvc/config`` (section ``hydra``) into ``params.yaml`` only when an
experiment passes ``-S`` overrides; after editing ``configs/`` by hand, run this before ``dvc repro`` so the
pipeline sees it. Each other branch of the pipeline has its config next to that one, ``<name>_<branch>.yaml``
(e.g. ``pipeline_ner.yaml``), and gets ``params_<branch>.yaml`` the same way. ``dvc exp run -S`` cannot do
that for those files (it sets values in place and resolves interpolations that must wait for the stage), so an
experiment on another branch is ``python -m nlpops.utils.dvc_params --file params_ner.yaml KEY=VALUE`` and then
``dvc repro``. Arguments are Hydra overrides: ``python -m nlpops.utils.dvc_params trainer.max_epochs=5``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dvc.exceptions import DvcException
from dvc.repo import Repo
from dvc.utils.hydra import compose_and_dump
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from nlpops.errors import UserError

PARAMS_FILE = "params.yaml"


def write_params(overrides: list[str], root: str = ".", only: Sequence[str] = ()) -> list[str]:
    """Compose each branch's pipeline config (or those of the params files ``only`` names) with ``overrides``.

    Every file is composed before any is replaced, so a bad override leaves them all as they were.
    """
    with Repo(root) as repo:
        settings = repo.config["hydra"]
        config_dir = Path(repo.root_dir, settings.get("config_dir", "conf"))
        config_name = settings.get("config_name", "config")
        with tempfile.TemporaryDirectory(dir=repo.root_dir, prefix=".params-") as scratch:
            composed = {}
            for name, params_file in branch_files(config_dir, config_name, only).items():
                composed[params_file] = os.path.join(scratch, params_file)
                compose_and_dump(
                    composed[params_file],
                    config_dir=str(config_dir),
                    config_module=None,
                    config_name=name,
                    plugins_path=os.path.join(repo.root_dir, settings.get("plugins_path", "")),
                    overrides=overrides,
                )
            written = [os.path.join(repo.root_dir, params_file) for params_file in composed]
            for source, target in zip(composed.values(), written, strict=True):
                os.replace(source, target)
    return written


def branch_files(config_dir: Path, config_name: str, only: Sequence[str] = ()) -> dict[str, str]:
    """Each pipeline config and its params file: DVC's own first, then ``<name>_<branch>`` → ``params_<branch>``."""
    branches = sorted(path.stem for path in config_dir.glob(f"{config_name}_*.yaml"))
    stem = PARAMS_FILE.removesuffix(".yaml")
    files = {config_name: PARAMS_FILE} | {name: f"{stem}{name.removeprefix(config_name)}.yaml" for name in branches}
    unknown = sorted(set(only) - set(files.values()))
    if unknown:
        known = ", ".join(files.values())
        raise UserError(f"no pipeline branch writes {', '.join(unknown)}; the params files: {known}")
    return {name: file for name, file in files.items() if not only or file in only}


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Regenerate params.yaml and params_<branch>.yaml from configs/, as `dvc exp run -S` does."
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. trainer.max_epochs=5")
    parser.add_argument(
        "--file", action="append", default=[], help="write only this params file, e.g. params_ner.yaml (repeatable)"
    )
    args = parser.parse_args()
    try:
        paths = write_params(args.overrides, only=args.file)
    except (HydraException, OmegaConfBaseException, DvcException, UserError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"wrote {', '.join(paths)}")


if __name__ == "__main__":
    main()
