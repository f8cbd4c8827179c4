"""infra/ (Terraform): formatted, and every security check it skips says why. checkov itself runs outside the
suite (`make checkov`: it needs its own virtual environment); its result is in docs/deployment.md."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.cli import REPO_ROOT

SKIP = re.compile(r"#\s*checkov:skip=(CKV2?_[A-Z]+_\d+)(?::(.*))?")


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_files_are_formatted() -> None:
    done = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", "infra"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_skipped_security_check_is_justified() -> None:
    files = [*(REPO_ROOT / "infra").glob("*.tf"), *(REPO_ROOT / "docker").glob("*.Dockerfile")]
    skips = [(path.name, match) for path in files for match in SKIP.finditer(path.read_text())]
    assert skips
    for name, skip in skips:
        assert skip[2] and len(skip[2].split()) >= 5, f"{name}: {skip[1]} is skipped without a reason"
