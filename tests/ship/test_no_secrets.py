"""No credentials in the repository: every file git tracks (or would add) is scanned for AWS keys and private keys."""

from __future__ import annotations

import re
import subprocess

from tests.cli import REPO_ROOT

SECRETS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b"),
    "AWS secret access key": re.compile(
        r"aws.{0,20}secret.{0,20}[=:]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])", re.IGNORECASE
    ),
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
}


def findings(text: str) -> list[str]:
    return [kind for kind, pattern in SECRETS.items() if pattern.search(text)]


def repository_files() -> list[str]:
    """Tracked files, and untracked ones git does not ignore (what the next commit could add)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return sorted({name for name in listed.decode().split("\0") if name and (REPO_ROOT / name).is_file()})


def test_no_file_holds_an_aws_key_or_a_private_key() -> None:
    files = repository_files()
    assert "pyproject.toml" in files and "deploy.env" in files
    leaks = {name: kinds for name in files if (kinds := findings((REPO_ROOT / name).read_bytes().decode("latin-1")))}
    assert not leaks, f"credentials in {leaks}: remove them, rotate them, and use OIDC roles or a secret store"


def test_the_scan_recognises_each_kind_of_secret() -> None:
    # built at run time from pieces, so that this file itself holds no match
    key_id = "AKIA" + "Z7QW3ERTY5UIOP2A"
    secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # 40 characters
    pem = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----"
    assert findings(f"aws_access_key_id = {key_id}") == ["AWS access key id"]
    assert findings(f'AWS_SECRET_ACCESS_KEY="{secret}"') == ["AWS secret access key"]
    assert findings(pem) == ["private key"]
    assert findings("-----BEGIN " + "RSA PRIVATE KEY-----") == ["private key"]
    # what the repository does hold: fake test credentials, role ARNs, image digests
    assert findings("AWS_SECRET_ACCESS_KEY=testing arn:aws:iam::123456789012:role/deploy sha256:" + "a" * 64) == []
