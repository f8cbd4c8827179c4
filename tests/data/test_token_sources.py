"""Token data as people have it: CoNLL files, JSON Lines, Hub datasets; every broken form is one clear error."""

import bz2
import gzip
import json
from pathlib import Path

import pytest

from nlpops.data.sources import AssetSource, HubSource
from nlpops.data.token_sources import (
    ConllSource,
    HubTokenSource,
    JsonLinesTokenSource,
    TaggedSentence,
    TokenFormat,
    open_token_source,
)
from nlpops.errors import UserError

EXPECTED = [
    TaggedSentence(("EU", "rejects", "German", "call"), ("B-ORG", "O", "B-MISC", "O")),
    TaggedSentence(("Peter", "Blackburn"), ("B-PER", "I-PER")),
]


def load(path: Path, **settings) -> list[TaggedSentence]:
    return open_token_source(str(path), TokenFormat(**settings)).load()


def write(path: Path, text: str, opener=open) -> Path:
    with opener(path, "wt", encoding="utf-8", newline="") as file:
        file.write(text)
    return path


CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


@pytest.mark.parametrize(
    ("name", "text", "opener"),
    [
        ("conll2003.conll", CONLL_2003, open),  # -DOCSTART-, space-separated, POS and chunk columns
        (
            "tweets.txt",
            "EU\tB-ORG\nrejects\tO\nGerman\tB-MISC\ncall\tO\n\t\nPeter\tB-PER\nBlackburn\tI-PER\n\t\n",
            open,
        ),
        ("windows.iob", "EU B-ORG\r\nrejects O\r\nGerman B-MISC\r\ncall O\r\n\r\nPeter B-PER\r\nBlackburn I-PER", open),
        (
            "blank-lines.bio",
            "\n\nEU B-ORG\nrejects O\nGerman B-MISC\ncall O\n\n\n\nPeter B-PER\nBlackburn I-PER\n\n",
            open,
        ),
        (
            "tabs.tsv",
            "EU\tNNP\tB-ORG\nrejects\tVBZ\tO\nGerman\tJJ\tB-MISC\ncall\tNN\tO\n\nPeter\tNNP\tB-PER\nBlackburn\tNNP\tI-PER\n",
            open,
        ),
        ("zipped.conll.gz", CONLL_2003, gzip.open),
        ("zipped.conll.bz2", CONLL_2003, bz2.open),
    ],
)
def test_conll_files_as_people_have_them(tmp_path, name, text, opener):
    assert load(write(tmp_path / name, text, opener)) == EXPECTED


def test_the_tag_column_can_be_any_column(tmp_path):
    path = write(tmp_path / "tag-second.conll", "EU B-ORG NNP\nrejects O VBZ\nGerman B-MISC JJ\ncall O NN\n")
    assert load(path, tag_column=1) == EXPECTED[:1]
    assert load(path, tag_column=-2) == EXPECTED[:1]


def test_a_tab_separated_token_may_hold_spaces(tmp_path):
    path = write(tmp_path / "spaces.conll", "New York\tB-LOC\nis\tO\n")
    assert load(path) == [TaggedSentence(("New York", "is"), ("B-LOC", "O"))]


@pytest.mark.parametrize(
    ("scheme", "tags"),
    [
        ("IOB1", ["I-ORG", "O", "I-MISC", "O", "I-PER", "I-PER"]),
        ("BIOES", ["S-ORG", "O", "S-MISC", "O", "B-PER", "E-PER"]),
        ("IOB2", ["B-ORG", "O", "B-MISC", "O", "B-PER", "I-PER"]),
    ],
)
def test_every_scheme_is_read_as_iob2(tmp_path, scheme, tags):
    tokens = [token for sentence in EXPECTED for token in sentence.tokens]
    lines = [f"{token} {tag}" for token, tag in zip(tokens, tags, strict=True)]
    path = write(tmp_path / "data.conll", "\n".join(lines[:4]) + "\n\n" + "\n".join(lines[4:]) + "\n")
    assert load(path, scheme=scheme) == EXPECTED


def rows(tags_of=lambda sentence: list(sentence.tags), **extra) -> list[dict]:
    return [{"tokens": list(s.tokens), "tags": tags_of(s), **extra} for s in EXPECTED]


def write_jsonl(path: Path, records: list) -> Path:
    return write(path, "".join(json.dumps(record) + "\n" for record in records))


def test_jsonl_with_tag_names(tmp_path):
    assert load(write_jsonl(tmp_path / "data.jsonl", rows())) == EXPECTED


def test_jsonl_with_tag_ids_and_their_names(tmp_path):
    names = ["O", "B-MISC", "B-ORG", "B-PER", "I-PER"]
    records = rows(lambda sentence: [names.index(tag) for tag in sentence.tags])
    assert load(write_jsonl(tmp_path / "ids.jsonl", records), label_names=tuple(names)) == EXPECTED


def test_jsonl_columns_split_and_blank_lines(tmp_path):
    records = [{"words": r["tokens"], "ner": r["tags"], "part": "val"} for r in rows()]
    path = write(tmp_path / "data.jsonl", "\n" + json.dumps(records[0]) + "\n\n" + json.dumps(records[1]) + "\n")
    sentences = load(path, tokens_column="words", tags_column="ner", split_column="part")
    assert sentences == [TaggedSentence(s.tokens, s.tags, "val") for s in EXPECTED]


def test_jsonl_rows_without_tokens_are_skipped(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [*rows(), {"tokens": [], "tags": []}])
    assert load(path) == EXPECTED


class FakeDatasets:
    """What ``datasets.load_dataset`` returns for a Hub NER dataset: tags as ``Sequence(ClassLabel)`` ids."""

    @staticmethod
    def load_dataset(name, config, split):
        import datasets

        names = ["O", "B-PER", "I-PER", "B-ORG", "B-MISC"]
        features = datasets.Features(
            {
                "tokens": datasets.Sequence(datasets.Value("string")),
                "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
            }
        )
        records = {
            "tokens": [list(s.tokens) for s in EXPECTED],
            "ner_tags": [[names.index(t) for t in s.tags] for s in EXPECTED],
        }
        return datasets.Dataset.from_dict(records, features=features)


def test_hub_tag_names_come_from_the_datasets_features(monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", FakeDatasets.load_dataset)
    source = open_token_source("hub:eriktks/conll2003", TokenFormat(tags_column="ner_tags"))
    assert isinstance(source, HubTokenSource) and source.load() == EXPECTED


def test_an_unreachable_hub_dataset_says_what_to_do(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'nlpops-tests/no-such-dataset' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(
        UserError, match=r"cannot load Hugging Face dataset 'nlpops-tests/no-such-dataset' .*local file"
    ):
        open_token_source("hub:nlpops-tests/no-such-dataset", TokenFormat()).load()


@pytest.mark.parametrize(
    ("spec", "kind", "file_kind"),
    [
        ("asset:ner-tweets", ConllSource, AssetSource),
        ("corpus.conll", ConllSource, None),
        ("corpus.txt.gz", ConllSource, None),
        ("data/corpus.jsonl.bz2", JsonLinesTokenSource, None),
        ("hub:eriktks/conll2003", HubTokenSource, HubSource),
        ("wnut_17", HubTokenSource, HubSource),
    ],
)
def test_open_token_source_picks_the_source_from_the_spec(spec, kind, file_kind):
    source = open_token_source(spec, TokenFormat())
    assert type(source) is kind
    if file_kind is not None:
        assert type(getattr(source, "file", getattr(source, "hub", None))) is file_kind


# --- broken input: one UserError naming the file, the line and the fix ---------------------------------


@pytest.mark.parametrize(
    ("name", "text", "settings", "message"),
    [
        (
            "bad.conll",
            "EU B-ORG\nrejects X-MISC\n",
            {},
            r"bad\.conll:2: unknown tag prefix in 'X-MISC' .*set data\.scheme",
        ),
        ("bad.conll", "EU B-ORG\ncall E-ORG\n", {}, r"bad\.conll:2: unknown tag prefix in 'E-ORG' \(IOB2 tags"),
        (
            "bad.conll",
            "EU B-ORG\n\nrejects\ncall O\n",
            {},
            r"bad\.conll:3: 'rejects' is not a token and its tag; put the tag after",
        ),
        (
            "bad.conll",
            "EU NNP B-ORG\n",
            {"tag_column": 5},
            r"bad\.conll:1: 3 columns, none is column 5 .*set data\.tag_column",
        ),
        ("bad.conll", "EU B-\n", {}, r"bad\.conll:1: no entity type in 'B-'"),
        (
            "bad.jsonl",
            '{"tokens": ["EU", "rejects"], "tags": ["B-ORG"]}\n',
            {},
            r"bad\.jsonl:1: 2 tokens but 1 tags; give every token",
        ),
        (
            "bad.jsonl",
            '\n{"tokens": ["EU"], "tags": [2]}\n',
            {},
            r"bad\.jsonl:2, tag 1: tags are ids \(2\); set data\.label_names",
        ),
        (
            "bad.jsonl",
            '{"tokens": ["EU"], "tags": [2]}\n',
            {"label_names": ("O",)},
            r"tag id 2 has no name in data\.label_names \(1 names\)",
        ),
        (
            "bad.jsonl",
            '{"tokens": ["EU"], "tags": [["B-ORG"]]}\n',
            {},
            r"bad\.jsonl:1, tag 1: tag \['B-ORG'\] is neither a name nor an id",
        ),
        (
            "bad.jsonl",
            '{"words": ["EU"], "tags": ["B-ORG"]}\n',
            {},
            r"bad\.jsonl:1: no column 'tokens' \(columns: words, tags\); set data\.tokens_column",
        ),
        (
            "bad.jsonl",
            '{"tokens": "EU rejects", "tags": ["B-ORG"]}\n',
            {},
            r"bad\.jsonl:1: 'tokens' must be a list, got str; set data\.tokens_column",
        ),
        (
            "bad.jsonl",
            '{"tokens": ["EU", 3], "tags": ["B-ORG", "O"]}\n',
            {},
            r"bad\.jsonl:1: 'tokens' must be a list of strings",
        ),
        (
            "bad.jsonl",
            '{"tokens": ["EU"], "tags": ["B-ORG"]}\n',
            {"split_column": "split"},
            r"bad\.jsonl:1: no column 'split'; set data\.split_column",
        ),
        ("bad.jsonl", '{"tokens": ["EU"], "tags": ["B-ORG"]}\n{"tokens": oops}\n', {}, r"bad\.jsonl:2: not valid JSON"),
        ("bad.jsonl", '["EU", "B-ORG"]\n', {}, r"bad\.jsonl:1: expected an object with 'tokens' and 'tags'"),
    ],
)
def test_broken_data_is_one_user_error_naming_file_and_line(tmp_path, name, text, settings, message):
    with pytest.raises(UserError, match=message):
        load(write(tmp_path / name, text), **settings)


def test_a_non_utf8_file_names_its_line(tmp_path):
    path = tmp_path / "latin1.conll"
    path.write_bytes("EU B-ORG\n\nCaf\xe9 B-LOC\n".encode("latin-1"))
    with pytest.raises(
        UserError, match=r"latin1\.conll is not UTF-8 text \(byte 0xe9 on line 3\); re-save it as UTF-8"
    ):
        load(path)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"scheme": "BIO"}, r"data\.scheme must be one of IOB2, IOB1, BIOES, got 'BIO'"),
        ({"tag_column": 0}, r"data\.tag_column is 0, the token's column"),
    ],
)
def test_bad_settings_are_user_errors(settings, message):
    with pytest.raises(UserError, match=message):
        TokenFormat(**settings)


@pytest.mark.parametrize("name", ["corpus.csv", "corpus.json", "corpus.xml"])
def test_a_file_in_another_format_is_refused(tmp_path, name):
    path = write(tmp_path / name, "EU B-ORG\n")
    with pytest.raises(UserError, match=rf"{name}: token data must be CoNLL-style \(\.conll, .*JSON Lines \(\.jsonl\)"):
        open_token_source(str(path), TokenFormat())


def test_a_missing_file_names_it(tmp_path):
    with pytest.raises(UserError, match=r"data file not found: .*nope\.conll"):
        load(tmp_path / "nope.conll")
