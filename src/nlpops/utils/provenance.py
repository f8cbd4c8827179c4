"""Where a model came from: the code's commit, the library versions, the time. Shared by every manifest."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

MANIFEST = "manifest.json"  # the record a trained model folder and a model artifact each carry


def git_commit() -> str | None:
    """The commit of the running code (``-dirty`` if the tree had changes); None outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def versions(*packages: str) -> dict[str, str | None]:
    """Installed version of each package (None if it is not installed)."""
    found: dict[str, str | None] = {}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
