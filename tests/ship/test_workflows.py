"""The GitHub Actions workflows: actionlint clean, actions pinned, CD gated on CI, OIDC only, deploys serialised."""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from pathlib import Path

import yaml

from nlpops import tasks
from nlpops.deploy.settings import parse_env_file, task_names
from tests.cli import REPO_ROOT
from tests.ship.workflows import WORKFLOWS as FOLDER
from tests.ship.workflows import cd_step, matrix_tasks, workflow

WORKFLOWS = sorted(FOLDER.glob("*.yml"))
SCRIPTS = Path(sysconfig.get_path("scripts"))
DEPLOY_ENV = REPO_ROOT / "deploy.env"


def test_actionlint_passes() -> None:
    assert [path.name for path in WORKFLOWS] == ["cd.yml", "ci.yml", "drift.yml"]
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
    assert cd["on"]["workflow_run"] == {"workflows": ["CI"], "types": ["completed"], "branches": ["main"]}
    assert cd["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False}
    assert cd["permissions"] == {"contents": "read", "id-token": "write"}
    assert "conclusion == 'success'" in cd["jobs"]["image"]["if"]
    assert cd["jobs"]["release"]["needs"] == "image"
    for job in cd["jobs"].values():
        [credentials] = [step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", "")]
        assert set(credentials["with"]) == {"role-to-assume", "aws-region"}  # no access keys, ever
    release = [step.get("run", "") for step in cd["jobs"]["release"]["steps"]]
    assert 'python -m nlpops.deploy release --task "${{ matrix.task }}" --image-tag "$IMAGE_TAG"' in release


def test_cd_promotes_a_pushed_prod_stage_tag_with_todays_code_and_every_tag() -> None:
    """`gto assign MODEL --version V --stage prod` writes MODEL#prod#N; pushing it runs `promote` alone."""
    cd = workflow("cd.yml")
    assert cd["on"]["push"] == {"tags": ["*#prod#*"]}
    assert "github.event_name == 'push'" in cd["jobs"]["promote"]["if"]
    assert "github.event.workflow_run" in cd["jobs"]["image"]["if"]  # a tag push builds and releases nothing else
    checkout = cd_step("promote", "actions/checkout")["with"]
    # the version's commit may predate `promote`: run main's code, with the history and tags GTO reads
    assert checkout == {"ref": "${{ github.event.repository.default_branch }}", "fetch-depth": 0}
    [promote] = [step for step in cd["jobs"]["promote"]["steps"] if "nlpops.deploy promote" in step.get("run", "")]
    assert promote["run"] == 'python -m nlpops.deploy promote --tag "$STAGE_TAG"'
    assert promote["env"] == {"STAGE_TAG": "${{ github.ref_name }}"}  # a tag name never inside the script
    installs = [step.get("run", "") for step in cd["jobs"]["promote"]["steps"]]
    assert 'pip install -c constraints.txt ".[deploy,registry]"' in installs


def test_cd_builds_and_releases_every_task_deploy_env_names() -> None:
    """Both jobs are a matrix over every task nlpops knows, as deploy.env's TASKS (so Terraform) lists them."""
    known = {task.config for task in tasks.TASKS.values()}
    assert set(task_names(parse_env_file(DEPLOY_ENV)["TASKS"], DEPLOY_ENV)) == known
    for job in ("image", "release"):
        assert sorted(entry["task"] for entry in matrix_tasks(job)) == sorted(known), job
        # a failed task stops no other: above all, a release in flight is never cancelled before its rollback
        assert workflow("cd.yml")["jobs"][job]["strategy"]["fail-fast"] is False


def test_each_tasks_image_is_built_from_the_artifact_its_export_stage_writes() -> None:
    image = workflow("cd.yml")["jobs"]["image"]
    runs = "\n".join(step.get("run", "") for step in image["steps"])
    assert 'dvc pull "export@${{ matrix.task }}"' in runs  # dvc.yaml: export@classification, export@ner
    for entry in matrix_tasks("image"):
        config = yaml.safe_load((REPO_ROOT / "configs" / "task" / f"{entry['task']}.yaml").read_text())
        assert entry["artifact"] == config["artifact_dir"].replace("${paths.models_dir}", "models"), entry
    build = cd_step("image", "docker/build-push-action")["with"]
    assert build["build-args"] == "NLPOPS_ARTIFACT=${{ matrix.artifact }}"
    # the layer cache is per task: two tasks writing one cache scope would evict each other's layers
    assert (
        "scope=lambda-${{ matrix.task }}" in build["cache-from"]
        and "scope=lambda-${{ matrix.task }}" in build["cache-to"]
    )
