"""Without S3, the raw data is re-created from the pinned asset with exactly the bytes data.dvc tracks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nlpops.data.raw import commit_to_dvc, ensure_raw_file
from nlpops.errors import UserError
from tests.cli import REPO_ROOT
from tests.pipeline.workspace import dvc, git

RAW_FILE = "data/raw/rotten_tomatoes_corpus_full.csv.bz2"
NER_RAW_FILE = "data/raw/ner_tweets.txt"
GENERATION_RAW_FILE = "data/raw/hamlet.txt"


@pytest.mark.slow
def test_restored_raw_data_matches_data_dvc(tmp_path: Path):
    for name in ("data.dvc", ".dvc/config", ".dvcignore"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    git(tmp_path, "init", "-q")
    assert "not in cache" in dvc(tmp_path, "status", "data.dvc").stdout  # a fresh clone: nothing to compare yet
    ensure_raw_file(tmp_path / RAW_FILE, "asset:rotten-tomatoes", tmp_path / "data.dvc")
    assert "not in cache" in dvc(tmp_path, "status", "data.dvc").stdout  # one branch's file of three: not yet
    ensure_raw_file(tmp_path / NER_RAW_FILE, "asset:ner-tweets", tmp_path / "data.dvc")
    assert "not in cache" in dvc(tmp_path, "status", "data.dvc").stdout
    ensure_raw_file(tmp_path / GENERATION_RAW_FILE, "asset:hamlet", tmp_path / "data.dvc")
    assert dvc(tmp_path, "status", "data.dvc").stdout.strip() == "Data and pipelines are up to date."
    assert (tmp_path / "data.dvc").read_text() == (REPO_ROOT / "data.dvc").read_text()


def test_restored_bytes_that_differ_from_data_dvc_are_refused(tmp_path: Path):
    for name in ("data.dvc", ".dvc/config"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    git(tmp_path, "init", "-q")
    raw = tmp_path / RAW_FILE
    raw.parent.mkdir(parents=True)
    raw.write_bytes(b"category,text\nfresh,not the tracked bytes\n")
    (tmp_path / NER_RAW_FILE).write_text("Lisbon\tB-geo-loc\n")
    (tmp_path / GENERATION_RAW_FILE).write_text("HAMLET. Not the tracked bytes.\n")
    with pytest.raises(UserError, match=r"differs from what .*data\.dvc tracks"):
        commit_to_dvc(tmp_path / "data.dvc")
    assert (tmp_path / "data.dvc").read_text() == (REPO_ROOT / "data.dvc").read_text()


def test_an_existing_raw_file_is_left_alone(tmp_path: Path):
    raw = tmp_path / "raw.csv"
    raw.write_text("text,label\n")
    assert ensure_raw_file(raw, "asset:rotten-tomatoes") == raw and raw.read_text() == "text,label\n"


@pytest.mark.parametrize(
    ("restore_from", "message"),
    [(None, r"raw.csv is missing: fetch it with `dvc pull data.dvc`"), ("s3://x/y", r"must be asset:NAME")],
)
def test_a_missing_raw_file_that_cannot_be_restored_says_what_to_do(tmp_path: Path, restore_from, message):
    with pytest.raises(UserError, match=message):
        ensure_raw_file(tmp_path / "raw.csv", restore_from)
