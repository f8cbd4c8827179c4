"""infra/ (Terraform): formatted, one definition per task resource, the state of the single function moved to
the classification task, the names the release uses, and every security check it skips says why. checkov itself
runs outside the suite (`make checkov`: it needs its own virtual environment); its result is in
docs/deployment.md. `terraform validate` needs the AWS provider, which the suite does not download."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nlpops.deploy.settings import DEFAULT_TASK, parse_env_file, read_settings, stage_names, task_names
from nlpops.monitor.cloudwatch import log_group
from tests.cli import REPO_ROOT
from tests.ship.workflows import workflow

INFRA = REPO_ROOT / "infra"
SKIP = re.compile(r"#\s*checkov:skip=(CKV2?_[A-Z]+_\d+)(?::(.*))?")
BLOCK = re.compile(r'^(\w+)((?: "[^"]+")*) \{\n(.*?)^\}$', re.MULTILINE | re.DOTALL)  # top level, as fmt writes it
PER_TASK = ("function.tf", "registry.tf")  # every resource there is one per task
# One per task and stage: the single function's `live` alias became the stage aliases (new names, so new URLs)
PER_STAGE = {
    "aws_lambda_alias.stage",
    "aws_lambda_function_url.stage",
    "aws_lambda_permission.url",
    "aws_lambda_permission.url_invoke",
    "aws_lambda_provisioned_concurrency_config.stage",
}


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


def blocks(kind: str, *files: str) -> list[tuple[str, str]]:
    """The top-level ``kind`` blocks of these infra/ files (all if none): address (``TYPE.NAME``) and body."""
    paths = [INFRA / name for name in files] or sorted(INFRA.glob("*.tf"))
    found = [match for path in paths for match in BLOCK.finditer(path.read_text())]
    return [(".".join(re.findall(r'"([^"]+)"', match[2])), match[3]) for match in found if match[1] == kind]


def test_each_per_task_resource_is_one_definition_iterating_over_the_tasks() -> None:
    resources = blocks("resource", *PER_TASK)
    assert len(resources) >= 10
    for address, body in resources:
        arguments = re.findall(r"^  (\w+) += ", body, re.MULTILINE)
        assert "for_each" in arguments and "count" not in arguments, f"{address}: not one instance per task"


def test_the_single_functions_state_moves_to_the_classification_task() -> None:
    """Each resource that existed once before there were tasks is handed to the classification task's instance.

    Without the move, Terraform would destroy the live function (its versions with it) and the image repository,
    then create new ones. The alias and what hangs on it are per stage now, under other names: nothing to move.
    """
    per_task = {address for address, _ in blocks("resource", *PER_TASK)} - PER_STAGE
    moves = [dict(re.findall(r"^  (from|to) += (\S+)$", body, re.MULTILINE)) for _, body in blocks("moved")]
    for move in moves:
        address, _, key = move["to"].partition("[")
        assert address in per_task and key == f'"{DEFAULT_TASK}"]', move
        assert move["from"] in (address, f"{address}[0]"), move  # the old single resource, or its count instance
    assert {move["to"].partition("[")[0] for move in moves} == per_task


def local_entries(*names: str) -> str:
    """These entries of the locals in infra/settings.tf, verbatim, as a locals block of their own."""
    lines = (INFRA / "settings.tf").read_text().splitlines()
    picked = []
    for name in names:
        start = next(number for number, line in enumerate(lines) if line.startswith(f"  {name} = "))
        end = lines.index("  }", start) if lines[start].endswith("{") else start
        picked += lines[start : end + 1]
    return "locals {\n" + "\n".join(picked) + "\n}\n"


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
@pytest.mark.parametrize(
    "deploy_env",
    [
        (REPO_ROOT / "deploy.env").read_text(),
        "AWS_REGION=us-east-1\nNAME_PREFIX=acme\nTASKS=ner:tagger,classification:reviews\nLAMBDA_ALIAS=qa\nSTAGES=qa,live\n",
    ],
    ids=["repository", "other"],
)
def test_terraform_names_each_tasks_function_and_repository_as_the_release_does(
    tmp_path: Path, deploy_env: str
) -> None:
    """Terraform's own expressions (no provider needed) on a deploy.env, against what `release --task` reads."""
    (tmp_path / "deploy.env").write_text(deploy_env)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "locals.tf").write_text(local_entries("settings", "functions", "aliases"))
    done = subprocess.run(
        ["terraform", f"-chdir={tmp_path / 'infra'}", "console"],
        input="jsonencode([local.functions, local.aliases])\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    functions, aliases = json.loads(json.loads(done.stdout))
    path = tmp_path / "deploy.env"
    values = parse_env_file(path)
    released = {
        (task, stage): read_settings(path, task, stage)
        for task in task_names(values["TASKS"], path)
        for stage in stage_names(values, path)
    }
    assert functions == {task: settings.lambda_function for (task, _), settings in released.items()}
    assert all(settings.ecr_repository == settings.lambda_function for settings in released.values())
    # an alias for each stage a release or a promotion may move, named as the release names it
    assert aliases == {
        f"{task}/{stage}": {"task": task, "stage": settings.lambda_alias}
        for (task, stage), settings in released.items()
    }


def test_the_drift_role_trusts_what_the_deploy_role_does_and_may_only_read_the_functions_logs() -> None:
    """The drift workflow's role: production jobs of this repository, FilterLogEvents on the tasks' log groups.

    The one call the monitor makes (its boto3 paginator, as an IAM action) is the one action allowed, and the
    resources are the per-task log groups' ARNs, built by iterating over them: no wildcard, no other log group.
    """
    roles = dict(blocks("resource", "drift.tf", "github.tf"))
    trust = re.compile(r"^  assume_role_policy += (\S+)$", re.MULTILINE)
    assert trust.findall(roles["aws_iam_role.github_drift"]) == trust.findall(roles["aws_iam_role.github_deploy"])
    assert re.search(r"^  role += aws_iam_role\.github_drift\.id$", roles["aws_iam_role_policy.github_drift"], re.M)
    assert re.search(
        r"^  policy += data\.aws_iam_policy_document\.github_drift\.json$",
        roles["aws_iam_role_policy.github_drift"],
        re.MULTILINE,
    )

    policy = dict(blocks("data", "drift.tf"))["aws_iam_policy_document.github_drift"]
    assert "effect" not in policy and "not_actions" not in policy  # Allow statements only
    actions = {
        action
        for line in re.findall(r"^    actions += \[(.*)\]$", policy, re.MULTILINE)
        for action in re.findall(r'"([^"]+)"', line)
    }
    monitor = (REPO_ROOT / "src" / "nlpops" / "monitor" / "cloudwatch.py").read_text()
    calls = re.findall(r'get_paginator\("(\w+)"\)|client\.(?!get_paginator)(\w+)\(', monitor)
    assert actions == {"logs:" + "".join(part.title() for part in (a or b).split("_")) for a, b in calls}
    assert actions == {"logs:FilterLogEvents"}
    [resources] = re.findall(r"^    resources += (.*)$", policy, re.MULTILINE)
    assert re.fullmatch(
        r'flatten\(\[for (\w+) in aws_cloudwatch_log_group\.function : \[\1\.arn, "\$\{\1\.arn\}:\*"\]\]\)', resources
    )
    [(_, log_groups)] = [
        block for block in blocks("resource", "function.tf") if block[0] == "aws_cloudwatch_log_group.function"
    ]
    # one per function of local.functions, named as the monitor names the group it reads
    assert re.search(r"^  for_each += local\.functions$", log_groups, re.MULTILINE)
    [name] = re.findall(r'^  name += "(.*)"$', log_groups, re.MULTILINE)
    assert name.replace("${each.value}", "nlpops-ner") == log_group("nlpops-ner")

    outputs = dict(blocks("output", "outputs.tf"))
    assert "value       = aws_iam_role.github_drift.arn" in outputs["github_drift_role_arn"]
    assert "AWS_DRIFT_ROLE_ARN" in outputs["github_drift_role_arn"]


def test_the_drift_workflow_assumes_the_drift_role_in_the_environment_it_trusts() -> None:
    drift = workflow("drift.yml")["jobs"]["drift"]
    [default] = re.findall(
        r'^variable "github_environment" \{.*?^  default += "([^"]+)"$',
        (INFRA / "variables.tf").read_text(),
        re.MULTILINE | re.DOTALL,
    )
    assert drift["environment"] == default
    [credentials] = [step for step in drift["steps"] if "configure-aws-credentials" in step.get("uses", "")]
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DRIFT_ROLE_ARN }}"
