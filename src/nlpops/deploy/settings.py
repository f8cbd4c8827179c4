"""Deployment settings from ``deploy.env``, the one file that names the AWS region and resources.

The CD workflow appends its ``KEY=value`` lines to the job environment, Terraform parses them
(``infra/settings.tf``) and the release command reads them here, so a name is written once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from nlpops.errors import UserError

DEFAULT_PATH = Path("deploy.env")
_LINE = re.compile(r"([A-Z][A-Z0-9_]*)=([^\s\"']+)")  # $GITHUB_ENV and Terraform would keep quotes as text


@dataclass(frozen=True)
class DeploySettings:
    """What a release needs: where the images are and which function alias serves traffic.

    Each field is the upper-cased ``deploy.env`` key: ``aws_region`` is ``AWS_REGION``.
    """

    aws_region: str
    ecr_repository: str
    lambda_function: str
    lambda_alias: str


def parse_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (no quotes, no spaces); blank lines and ``#`` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no deploy settings at {path}: run from the repository root or pass --settings") from None
    except (OSError, UnicodeDecodeError) as err:  # a folder, unreadable, not text
        raise UserError(f"cannot read deploy settings {path}: {getattr(err, 'strerror', None) or err}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise UserError(f"{path}:{number}: expected KEY=value (no quotes or spaces), got {line!r}")
        values[match[1]] = match[2]
    return values


def read_settings(path: Path = DEFAULT_PATH) -> DeploySettings:
    values = parse_env_file(path)
    keys = [field.name.upper() for field in fields(DeploySettings)]
    missing = [key for key in keys if key not in values]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}")
    return DeploySettings(*(values[key] for key in keys))
