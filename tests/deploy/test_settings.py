"""deploy.env: the one place for the region and resource names, read alike by CD, this package and Terraform."""

from __future__ import annotations

import configparser
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nlpops import tasks
from nlpops.deploy.__main__ import main
from nlpops.deploy.settings import DeploySettings, parse_env_file, read_settings, task_names, task_of_model
from nlpops.errors import UserError
from tests.cli import REPO_ROOT
from tests.deploy.stand_ins import NER_SETTINGS, SETTINGS, write_settings

DEPLOY_ENV = REPO_ROOT / "deploy.env"
CD = REPO_ROOT / ".github" / "workflows" / "cd.yml"
LOAD_STEP = 'PYTHONPATH=src python3 -m nlpops.deploy env --task "${{ matrix.task }}" >> "$GITHUB_ENV"'


def test_the_repository_settings_name_a_function_per_task() -> None:
    classification, ner = read_settings(DEPLOY_ENV), read_settings(DEPLOY_ENV, "ner")
    # the first function keeps its name (and so its URL): infra/moved.tf hands its state to the classification task
    name = "nlpops-text-classifier"
    assert classification == DeploySettings("eu-west-1", name, name, "staging", "text-classifier", tasks.CLASSIFICATION)
    assert ner == DeploySettings("eu-west-1", "nlpops-ner", "nlpops-ner", "staging", "ner", tasks.TOKEN_CLASSIFICATION)
    assert read_settings(DEPLOY_ENV, "ner", "prod").lambda_alias == "prod"


def test_every_deployed_model_is_declared_in_the_registry() -> None:
    """A stage tag names a model by its artifacts.yaml name; the release finds its function by TASKS' NAME."""
    declared = yaml.safe_load((REPO_ROOT / "artifacts.yaml").read_text())
    deployed = task_names(parse_env_file(DEPLOY_ENV)["TASKS"], DEPLOY_ENV)
    assert set(declared) == set(deployed.values())
    assert all(entry["type"] == "model" for entry in declared.values())


def test_a_stage_reads_as_its_alias_and_a_model_as_its_task(tmp_path: Path) -> None:
    path = write_settings(tmp_path / "deploy.env")
    assert read_settings(path, "ner", "prod") == dataclasses.replace(NER_SETTINGS, lambda_alias="prod")
    assert task_of_model(path, "test-ner") == "ner"
    with pytest.raises(UserError, match=r"unknown model 'text-classifier': .* deploys test, test-ner"):
        task_of_model(path, "text-classifier")
    with pytest.raises(UserError, match=r"no alias for stage 'qa': .* gives each function live, prod \(its STAGES\)"):
        read_settings(path, "ner", "qa")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"STAGES": "staging,prod"}, "LAMBDA_ALIAS=live is not one of STAGES=staging,prod"),
        ({"STAGES": "live,Prod"}, "STAGES must be distinct lower-case names"),
        ({"STAGES": "live,live"}, "STAGES must be distinct lower-case names"),
    ],
)
def test_a_bad_stage_list_is_refused(tmp_path: Path, changes: dict[str, str], problem: str) -> None:
    with pytest.raises(UserError, match=re.escape(problem)):
        read_settings(write_settings(tmp_path / "deploy.env", **changes))


def test_the_repository_deploys_every_task_nlpops_knows() -> None:
    """TASKS is what Terraform's for_each iterates over: a task missing there would have no function."""
    deployed = task_names(parse_env_file(DEPLOY_ENV)["TASKS"], DEPLOY_ENV)
    assert set(deployed) == {task.config for task in tasks.TASKS.values()}


def test_each_task_reads_as_its_own_function_repository_and_check(tmp_path: Path) -> None:
    path = write_settings(tmp_path / "deploy.env")
    assert read_settings(path) == SETTINGS  # no task given: classification, as before there were tasks
    assert read_settings(path, "ner") == NER_SETTINGS
    prefixed = read_settings(write_settings(tmp_path / "acme.env", NAME_PREFIX="acme"), "ner")
    assert prefixed.lambda_function == prefixed.ecr_repository == "acme-test-ner"


def test_the_dvc_remote_is_the_one_dvc_uses() -> None:
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / ".dvc" / "config")
    sections = {name.strip("'"): section for name, section in config.items()}  # DVC writes ['remote "storage"']
    assert parse_env_file(DEPLOY_ENV)["DVC_REMOTE"] == sections['remote "storage"']["url"]


def test_terraform_uses_only_names_deploy_env_defines() -> None:
    used = {
        name
        for path in (REPO_ROOT / "infra").glob("*.tf")
        for name in re.findall(r"local\.settings\.(\w+)", path.read_text())
    }
    assert used and used <= set(parse_env_file(DEPLOY_ENV))


def test_the_cd_workflow_loads_every_setting_it_uses_from_deploy_env() -> None:
    workflow = CD.read_text()
    jobs = yaml.safe_load(workflow)["jobs"].values()
    steps_env = {name for job in jobs for step in job["steps"] for name in step.get("env", {})}
    own = set(yaml.safe_load(workflow)["env"]) | steps_env
    used = set(re.findall(r"env\.([A-Z][A-Z0-9_]*)", workflow)) | set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", workflow))
    used -= own | {name for name in used if name.startswith("GITHUB_")}
    loaded = {line.split("=")[0] for line in read_settings(DEPLOY_ENV).as_env().splitlines()}
    loaded |= set(re.findall(r'print\(f"([A-Z_]+)=\{s\(\)\.', workflow))  # deploy.env's, through nlpops.cloud.settings
    assert "TRAIN_REPOSITORY" in loaded
    assert used and used <= loaded
    assert workflow.count(LOAD_STEP) == 2  # in each job


def test_the_env_command_prints_a_tasks_names_for_the_job_environment(tmp_path: Path) -> None:
    """As CD runs it: the runner's Python, the source tree, nothing installed (-S: no site-packages at all)."""
    path = write_settings(tmp_path / "deploy.env")
    command = [sys.executable, "-S", "-m", "nlpops.deploy", "env", "--task", "ner", "--settings", str(path)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "AWS_REGION=eu-west-1\nECR_REPOSITORY=nlpops-test-ner\nLAMBDA_FUNCTION=nlpops-test-ner\nLAMBDA_ALIAS=live\n"
    )


def test_the_env_command_refuses_an_unknown_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_settings(tmp_path / "deploy.env")
    assert main(["env", "--task", "token-classification", "--settings", str(path)]) == 2
    out, err = capsys.readouterr()
    assert (
        out == ""
        and err == f"error: unknown task 'token-classification': {path} deploys classification, ner (its TASKS)\n"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('AWS_REGION="eu-west-1"\n', "deploy.env:1: expected KEY=value"),
        ("# names\n\nAWS_REGION = eu-west-1\n", "deploy.env:3: expected KEY=value"),
        ("AWS_REGION=eu-west-1\nLAMBDA_ALIAS=live\n", "lacks NAME_PREFIX, TASKS, STAGES"),
    ],
)
def test_a_malformed_or_incomplete_file_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "deploy.env"
    path.write_text(text)
    with pytest.raises(UserError, match=re.escape(problem)):
        read_settings(path)


@pytest.mark.parametrize(
    ("tasks_line", "problem"),
    [
        ("classification", "TASKS must be TASK:NAME pairs separated by commas, got 'classification'"),
        ("classification:Text_Classifier", "TASKS must be TASK:NAME pairs"),  # ECR takes no upper case
        ("classification:a,,ner:b", "TASKS must be TASK:NAME pairs"),
        ("classification:a,classification:b", "TASKS names a task or a NAME twice"),
        ("classification:a,ner:a", "TASKS names a task or a NAME twice"),  # one function for two tasks
        ("classification:a,sentiment:b", "TASKS names sentiment, not a task (known: classification, generation, ner)"),
    ],
)
def test_a_malformed_task_list_is_refused(tmp_path: Path, tasks_line: str, problem: str) -> None:
    path = tmp_path / "deploy.env"
    path.write_text(f"AWS_REGION=eu-west-1\nNAME_PREFIX=nlpops\nLAMBDA_ALIAS=live\nSTAGES=live\nTASKS={tasks_line}\n")
    with pytest.raises(UserError, match=re.escape(problem)):
        read_settings(path)


def test_a_missing_file_says_where_to_run_from(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="run from the repository root or pass --settings"):
        read_settings(tmp_path / "deploy.env")


def test_a_folder_or_a_binary_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"cannot read deploy settings .*: Is a directory"):
        read_settings(tmp_path)
    (tmp_path / "deploy.env").write_bytes(b"AWS_REGION=\xff\n")
    with pytest.raises(UserError, match=r"cannot read deploy settings .*utf-8"):
        read_settings(tmp_path / "deploy.env")
