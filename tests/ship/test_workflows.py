"""The GitHub Actions workflows: actionlint clean, actions pinned, CD gated on CI, OIDC only, deploys serialised."""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import yaml

from tests.cli import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
SCRIPTS = Path(sysconfig.get_path("scripts"))


def workflow(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / name).read_text())
    loaded["on"] = loaded.pop(True)  # YAML 1.1 reads the key `on` as true
    return loaded


def test_actionlint_passes() -> None:
    assert [path.name for path in WORKFLOWS] == ["cd.yml", "ci.yml"]
    # shellcheck, when installed in the environment, checks every run: script too (as on GitHub's runners)
    env = {**os.environ, "PATH": f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [SCRIPTS / "actionlint", "-no-color", *WORKFLOWS], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_action_is_pinned_to_a_commit_with_its_version_noted() -> None:
    for path in WORKFLOWS:
        uses = re.findall(r"uses: (\S+)(.*)", path.read_text())
        assert uses
        for action, comment in uses:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), f"{path.name}: {action} is not pinned"
            assert re.fullmatch(r" # v\d+(\.\d+)*", comment), f"{path.name}: {action} lacks its version"


def test_ci_runs_the_readme_commands_on_pull_requests_and_pushes() -> None:
    ci = workflow("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    runs = [step.get("run") for job in ci["jobs"].values() for step in job["steps"]]
    assert "make test" in runs and "make lint EXTRAS=dev" in runs


def test_cd_deploys_pushes_to_main_after_ci_one_at_a_time_with_oidc() -> None:
    cd = workflow("cd.yml")
    assert cd["on"] == {"workflow_run": {"workflows": ["CI"], "types": ["completed"], "branches": ["main"]}}
    assert cd["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False}
    assert cd["permissions"] == {"contents": "read", "id-token": "write"}
    assert "conclusion == 'success'" in cd["jobs"]["image"]["if"]
    assert cd["jobs"]["release"]["needs"] == "image"
    for job in cd["jobs"].values():
        [credentials] = [step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", "")]
        assert set(credentials["with"]) == {"role-to-assume", "aws-region"}  # no access keys, ever
    release = [step.get("run", "") for step in cd["jobs"]["release"]["steps"]]
    assert 'python -m nlpops.deploy release --image-tag "$IMAGE_TAG"' in release
