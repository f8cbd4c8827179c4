"""`dvc push` / `dvc pull` of data and models through a real S3 API on 127.0.0.1, and what bad access gets."""

from __future__ import annotations

import shutil

import pytest

from tests.local_servers import free_port
from tests.pipeline.s3 import s3_server
from tests.pipeline.workspace import checksums, dvc

BUCKET = "nlpops-test-artifacts"
# the DVC-tracked outputs (not their folders: data/prepared also holds the .gitignore DVC writes for them)
TRACKED = ("data/raw", "data/prepared/reviews.jsonl", "data/prepared/ner.jsonl")
TRACKED += ("models/text-classifier", "models/text-classifier-onnx", "models/ner", "models/ner-onnx")
EXPECTED_ERROR = {"wrong secret key": "(403)", "unreachable endpoint": "Could not connect"}


@pytest.fixture(scope="module")
def remote(reproduced):
    """The reproduced workspace with its ``storage`` remote pointed at a local S3 server (in config.local)."""
    root, _ = reproduced
    with s3_server(BUCKET) as server:
        dvc(root, "remote", "modify", "--local", "storage", "url", f"s3://{BUCKET}/dvc")
        dvc(root, "remote", "modify", "--local", "storage", "endpointurl", server.endpoint)
        yield root, server


def test_push_then_pull_into_an_empty_workspace_restores_every_byte(remote):
    root, server = remote
    before = checksums(root, *TRACKED)
    assert len(before) >= 6
    pushed = dvc(root, "push", **server.credentials())
    assert "pushed" in pushed.stdout
    shutil.rmtree(root / ".dvc" / "cache")
    for path in map(root.joinpath, TRACKED):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    dvc(root, "pull", **server.credentials())
    assert checksums(root, *TRACKED) == before
    assert dvc(root, "status", "--cloud", **server.credentials()).stdout.strip().startswith("Cache and remote")


@pytest.mark.parametrize("access", ["wrong secret key", "unreachable endpoint"])
def test_bad_access_fails_clearly_and_leaves_the_workspace_alone(remote, access):
    root, server = remote
    before = checksums(root, *TRACKED)
    credentials = server.credentials("wrong" if access == "wrong secret key" else None)
    if access == "unreachable endpoint":
        dvc(root, "remote", "modify", "--local", "storage", "endpointurl", f"http://127.0.0.1:{free_port()}")
    cache, aside = root / ".dvc" / "cache", root / ".dvc" / "cache-aside"
    try:
        for command in ("push", "pull"):
            if command == "pull":
                cache.rename(aside)  # an empty cache: pull must reach the remote for every file
            result = dvc(root, command, check=False, **credentials)
            assert result.returncode != 0, result.stdout
            assert EXPECTED_ERROR[access] in result.stderr, result.stderr
            assert checksums(root, *TRACKED) == before
    finally:
        if aside.exists():
            shutil.rmtree(cache, ignore_errors=True)
            aside.rename(cache)
        dvc(root, "remote", "modify", "--local", "storage", "endpointurl", server.endpoint)
