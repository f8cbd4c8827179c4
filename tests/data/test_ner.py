"""The NER DataModule: labels, splits, word-piece alignment, batches."""

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from nlpops.data import TokenClassificationDataModule
from nlpops.data.ner import IGNORE, WORD_STARTS, align_labels
from nlpops.errors import UserError
from tests.ner_helpers import toy_sentences, write_conll, write_jsonl


@pytest.fixture(scope="module")
def toy_conll(tmp_path_factory) -> Path:
    return write_conll(tmp_path_factory.mktemp("ner") / "toy.conll", toy_sentences())


def make_datamodule(tiny_pretrained: Path, source: Path, **kwargs) -> TokenClassificationDataModule:
    return TokenClassificationDataModule(source=str(source), tokenizer=str(tiny_pretrained), batch_size=8, **kwargs)


def test_labels_splits_and_batches(tiny_pretrained, toy_conll):
    datamodule = make_datamodule(tiny_pretrained, toy_conll)
    datamodule.setup("fit")
    assert datamodule.model_kwargs() == {
        "id2label": dict(enumerate(["O", "B-person", "I-person", "B-place", "I-place"]))
    }
    assert {name: len(part) for name, part in datamodule.examples.items()} == {"train": 160, "val": 20, "test": 20}

    batch = next(iter(datamodule.train_dataloader()))
    assert set(batch) == {"input_ids", "attention_mask", "labels", WORD_STARTS}
    assert batch["input_ids"].shape == batch["labels"].shape == batch[WORD_STARTS].shape
    assert batch[WORD_STARTS].dtype == torch.bool and batch["labels"].dtype == torch.long
    # dynamic padding: to the longest sentence of the batch; padding is ignored by the loss and is no word
    width = int(batch["attention_mask"].sum(dim=1).max())
    assert batch["input_ids"].shape[1] == width < 128
    padding = batch["attention_mask"] == 0
    assert (batch["labels"][padding] == IGNORE).all() and not batch[WORD_STARTS][padding].any()


def test_splits_are_stratified_by_each_sentences_main_entity_type(tiny_pretrained, tmp_path):
    kinds = ["person"] * 100 + ["place"] * 50 + [None] * 50
    sentences = [
        ([f"#{i}", "ana", "lisbon"], ["O", f"B-{kind}", f"B-{kind}"] if kind else ["O"] * 3)
        for i, kind in enumerate(kinds)
    ]
    sentences += [(["#x", "ana", "osaka", "lisbon"], ["O", "B-person", "B-place", "B-place"])]  # place: most frequent
    sentences += [(["#y", "ana", "osaka"], ["O", "B-person", "B-place"])]  # a tie: the first in the sentence
    datamodule = make_datamodule(tiny_pretrained, write_conll(tmp_path / "kinds.conll", sentences))
    examples = datamodule.load_examples()
    assert [datamodule.stratify_key(e) for e in examples[-2:]] == ["place", "person"]
    assert {datamodule.stratify_key(e) for e in examples[100:150]} == {"place"}
    assert {datamodule.stratify_key(e) for e in examples[150:200]} == {""}  # no entity: a group of its own
    for name, part in datamodule.load_splits().items():
        keys = [datamodule.stratify_key(e) for e in part]
        if name != "train":
            assert (keys.count("person"), keys.count("place"), keys.count("")) == (10, 5, 5)


def word_tags(datamodule: TokenClassificationDataModule, features: dict) -> list[str]:
    """The tags the labels give the words' first pieces: what the metrics read."""
    starts = torch.tensor(features[WORD_STARTS], dtype=torch.bool)
    return [datamodule.labels[i] for i in torch.tensor(features["labels"])[starts].tolist()]


@pytest.mark.parametrize("label_all_tokens", [False, True])
def test_each_words_first_piece_carries_its_tag(tiny_pretrained, toy_conll, label_all_tokens):
    datamodule = make_datamodule(tiny_pretrained, toy_conll, label_all_tokens=label_all_tokens)
    datamodule.setup()
    for example, features in zip(datamodule.examples["train"], datamodule.datasets["train"], strict=True):
        assert word_tags(datamodule, features) == list(example.tags)
        assert sum(features[WORD_STARTS]) == len(example.tokens)
    # "maria" and "lopez" are unknown to the tiny tokenizer: several pieces each
    example, features = next(
        (e, f)
        for e, f in zip(datamodule.examples["train"], datamodule.datasets["train"], strict=True)
        if "maria" in e.tokens
    )
    pieces = datamodule.tokenizer.convert_ids_to_tokens(features["input_ids"])
    first = pieces.index("m")
    assert pieces[first : first + 5] == ["m", "##a", "##r", "##i", "##a"]
    labels = [datamodule.labels[i] if i != IGNORE else None for i in features["labels"][first : first + 5]]
    later = ["I-person"] * 4 if label_all_tokens else [None] * 4
    assert labels == ["B-person", *later]
    assert features["labels"][0] == features["labels"][-1] == IGNORE  # [CLS] and [SEP]


@pytest.mark.parametrize(
    ("word_ids", "tags", "inside", "labels", "starts"),
    [
        ([None, 0, 1, 1, 2, None], [3, 1, 0], None, [IGNORE, 3, 1, IGNORE, 0, IGNORE], [0, 1, 1, 0, 1, 0]),
        ([None, 0, 0, 0, 1, None], [1, 0], [2, 2, 2], [IGNORE, 1, 2, 2, 0, IGNORE], [0, 1, 0, 0, 1, 0]),
        ([None, 0, 0, None], [0], [0, 2, 2], [IGNORE, 0, 0, IGNORE], [0, 1, 0, 0]),
    ],
)
def test_align_labels(word_ids, tags, inside, labels, starts):
    assert align_labels(word_ids, tags, inside) == (labels, starts)


def test_max_length_truncates_and_keeps_only_the_words_that_fit(tiny_pretrained, toy_conll):
    datamodule = make_datamodule(tiny_pretrained, toy_conll, max_length=8)
    datamodule.setup()
    for example, features in zip(datamodule.examples["train"], datamodule.datasets["train"], strict=True):
        assert len(features["input_ids"]) <= 8
        assert word_tags(datamodule, features) == list(example.tags[: sum(features[WORD_STARTS])])


def test_a_tokenizer_that_pads_to_a_fixed_length_still_gives_unpadded_features(tiny_pretrained, toy_conll, tmp_path):
    """all-MiniLM-L6-v2's tokenizer.json pads to 128: encoding must not, so that batches pad dynamically."""
    fixed = tmp_path / "fixed"
    tokenizer = AutoTokenizer.from_pretrained(tiny_pretrained)
    tokenizer.backend_tokenizer.enable_padding(length=128, pad_id=0, pad_token="[PAD]")
    tokenizer.backend_tokenizer.enable_truncation(max_length=128)
    tokenizer.save_pretrained(fixed)
    assert '"Fixed": 128' in (fixed / "tokenizer.json").read_text()
    datamodule = TokenClassificationDataModule(source=str(toy_conll), tokenizer=str(fixed), max_length=16)
    datamodule.setup()
    lengths = {len(f["input_ids"]) for f in datamodule.datasets["train"]}
    assert max(lengths) <= 16 and len(lengths) > 1


def test_duplicate_sentences_are_dropped_before_splitting(tiny_pretrained, tmp_path):
    sentences = toy_sentences(100)
    datamodule = make_datamodule(tiny_pretrained, write_conll(tmp_path / "dup.conll", sentences + sentences[:10]))
    assert len(datamodule.load_examples()) == 100


def test_labels_hold_b_and_i_of_every_type_even_without_i_in_the_data(tiny_pretrained, tmp_path):
    sentences = [(["ana", f"#{i}"], ["B-person", "O"]) for i in range(30)]
    datamodule = make_datamodule(tiny_pretrained, write_conll(tmp_path / "single.conll", sentences))
    datamodule.load_examples()
    assert datamodule.labels == ["O", "B-person", "I-person"]


def test_prepared_rows_read_back_with_their_split(tiny_pretrained, toy_conll, tmp_path):
    """What prepare.py writes (to_row plus the split) is JSON Lines that training reads with data.split_column."""
    original = make_datamodule(tiny_pretrained, toy_conll, scheme="IOB1")  # IOB2 data reads the same in IOB1
    examples = original.load_examples()
    splits = original.assign_splits(examples)
    rows = [original.to_row(e) | {"part": split} for e, split in zip(examples, splits, strict=True)]
    reread = make_datamodule(
        tiny_pretrained, write_jsonl(tmp_path / "prepared.jsonl", rows), split_column="part", seed=7
    )
    pairs = {name: [(e.tokens, e.tags) for e in part] for name, part in reread.load_splits().items()}
    assert pairs == {name: [(e.tokens, e.tags) for e in part] for name, part in original.load_splits().items()}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"no tagged sentences in .*empty\.conll \(is it empty\?\); point data\.source at CoNLL-style lines"),
        ("-DOCSTART- O\n\n", r"no tagged sentences in .*empty\.conll"),
        ("the O\nfilm O\n\nis O\n", r"no entities in .*empty\.conll: every tag is O; check data\.tag_column"),
    ],
)
def test_data_without_sentences_or_entities_is_a_user_error(tiny_pretrained, tmp_path, text, message):
    path = tmp_path / "empty.conll"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        make_datamodule(tiny_pretrained, path).setup()
