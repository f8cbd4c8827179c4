"""deploy.env: the one place for the region and resource names, read alike by CD, this package and Terraform."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
import yaml

from nlpops.deploy.settings import DeploySettings, parse_env_file, read_settings
from nlpops.errors import UserError
from tests.cli import REPO_ROOT

DEPLOY_ENV = REPO_ROOT / "deploy.env"


def test_the_repository_settings_read() -> None:
    settings = read_settings(DEPLOY_ENV)
    assert isinstance(settings, DeploySettings)
    assert settings.lambda_alias == "live"


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


def test_the_cd_workflow_loads_deploy_env_for_every_setting_it_uses() -> None:
    workflow = (REPO_ROOT / ".github" / "workflows" / "cd.yml").read_text()
    own = set(yaml.safe_load(workflow)["env"])
    used = set(re.findall(r"env\.([A-Z][A-Z0-9_]*)", workflow)) | set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", workflow))
    used -= own | {name for name in used if name.startswith("GITHUB_")}
    assert used and used <= set(parse_env_file(DEPLOY_ENV))
    assert workflow.count('deploy.env >> "$GITHUB_ENV"') == 2  # in each job


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('AWS_REGION="eu-west-1"\n', "deploy.env:1: expected KEY=value"),
        ("# names\n\nAWS_REGION = eu-west-1\n", "deploy.env:3: expected KEY=value"),
        ("AWS_REGION=eu-west-1\nLAMBDA_ALIAS=live\n", "lacks ECR_REPOSITORY, LAMBDA_FUNCTION"),
    ],
)
def test_a_malformed_or_incomplete_file_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "deploy.env"
    path.write_text(text)
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
