import bz2
import gzip
import json
from pathlib import Path

import pytest

from nlpops.data.sources import AssetSource, HubSource, LocalFileSource, open_source
from nlpops.errors import UserError

ROWS = [{"text": "a fine film", "label": "pos"}, {"text": "a dull film", "label": "neg"}]


def write(path: Path, content: str, opener=open) -> Path:
    with opener(path, "wt", encoding="utf-8") as file:
        file.write(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "opener"),
    [
        ("rows.csv", "text,label\na fine film,pos\na dull film,neg\n", open),
        ("rows.tsv", "text\tlabel\na fine film\tpos\na dull film\tneg\n", open),
        ("rows.jsonl", "".join(json.dumps(r) + "\n" for r in ROWS) + "\n", open),
        ("rows.json", json.dumps(ROWS), open),
        ("rows.csv.gz", "text,label\na fine film,pos\na dull film,neg\n", gzip.open),
        ("rows.jsonl.bz2", "".join(json.dumps(r) + "\n" for r in ROWS), bz2.open),
    ],
)
def test_local_file_formats_give_the_same_rows(tmp_path, name, content, opener):
    path = write(tmp_path / name, content, opener)
    assert LocalFileSource(path).load() == ROWS


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(UserError, match=r"data file not found: .*nope\.csv"):
        LocalFileSource(tmp_path / "nope.csv").load()


def test_non_utf8_file_is_rejected_with_the_offending_byte(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncaf\xe9 cr\xe8me,pos\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"not UTF-8 text \(byte 0xe9"):
        LocalFileSource(path).load()


def test_bad_json_line_names_the_line(tmp_path):
    path = write(tmp_path / "rows.jsonl", '{"text": "ok", "label": "a"}\n{"text": oops}\n')
    with pytest.raises(UserError, match=r"rows\.jsonl:2: not valid JSON"):
        LocalFileSource(path).load()


def test_json_must_be_a_list(tmp_path):
    path = write(tmp_path / "rows.json", '{"text": "ok"}')
    with pytest.raises(UserError, match="expected a JSON list"):
        LocalFileSource(path).load()


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("asset:rotten-tomatoes", AssetSource),
        ("reviews.csv", LocalFileSource),
        ("data/reviews.jsonl.gz", LocalFileSource),
        ("hub:stanfordnlp/imdb", HubSource),
        ("stanfordnlp/imdb", HubSource),
    ],
)
def test_open_source_picks_the_source_from_the_spec(spec, kind):
    assert type(open_source(spec)) is kind
