"""Package a model artifact for an image: its manifest, its tokenizer and the one model the image serves.

An image serves one variant (int8 by default), so the other model file (the fp32 one is ~4x larger) stays
out of the image layer. Files are checked against the manifest's sha256 here: a corrupt or half-pulled
artifact fails the image build, not the deploy. This module uses the standard library only, so the image
build runs it straight from the source tree (``PYTHONPATH=src``) before any dependency is installed.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from nlpops.errors import UserError
from nlpops.serving.artifact import MANIFEST, check_artifact


def package_artifact(source: Path, target: Path, variant: str) -> list[str]:
    """Write the files that serve ``variant`` into the new folder ``target``; return their names.

    The manifest written lists that variant only, so asking the packaged artifact for another one fails
    with the serving stack's own clear message instead of a missing-file error.
    """
    source, target = Path(source), Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"{target} is not an empty folder: package into a new one")
    manifest = check_artifact(source, variant)
    files = manifest.serving_files(variant)
    packaged = dataclasses.replace(
        manifest,
        models={variant: manifest.models[variant]},
        checksums={name: manifest.checksums[name] for name in files},
    )
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copyfile(source / name, target / name)
        (target / MANIFEST).write_text(packaged.to_json(), encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write the package to {target}: {err.strerror or err}") from None
    return [MANIFEST, *files]
