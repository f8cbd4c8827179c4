"""Tag schemes and entity-level scores: hand-computed cases, and seqeval's exact figures on random tag sequences."""

import random
import warnings

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities

from nlpops.tagging import SCHEMES, entity_scores, entity_spans, tag_problem, to_iob2
from tests.cli import run_python_json


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
        (["O", "I-PER", "I-PER"], [("PER", 1, 3)]),  # an I- after O starts an entity
        (["B-PER", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 2)]),  # an I- of another type starts one too
        (["B-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)]),  # a B- always does
        (["I-geo-loc", "I-geo-loc"], [("geo-loc", 0, 2)]),  # a type may hold a hyphen
        (["O", "O"], []),
        ([], []),
    ],
)
def test_entity_spans(tags, spans):
    assert entity_spans(tags) == spans


@pytest.mark.parametrize(
    ("tags", "scheme", "iob2"),
    [
        (["I-PER", "I-PER", "O", "I-LOC"], "IOB1", ["B-PER", "I-PER", "O", "B-LOC"]),
        (["I-PER", "B-PER", "I-PER", "I-LOC"], "IOB1", ["B-PER", "B-PER", "I-PER", "B-LOC"]),
        (["S-PER", "O", "B-LOC", "I-LOC", "E-LOC"], "BIOES", ["B-PER", "O", "B-LOC", "I-LOC", "I-LOC"]),
        (["B-PER", "I-PER", "O", "I-LOC"], "IOB2", ["B-PER", "I-PER", "O", "I-LOC"]),  # IOB2 is left as it is
    ],
)
def test_to_iob2(tags, scheme, iob2):
    assert to_iob2(tags, scheme) == iob2


@pytest.mark.parametrize("scheme", SCHEMES)
def test_iob2_tags_are_left_as_they_are_by_every_conversion(scheme):
    """What prepared data (written in IOB2) relies on when it is read back with the raw data's scheme."""
    tags = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "O"]
    assert to_iob2(tags, scheme) == tags


@pytest.mark.parametrize(
    ("tag", "scheme", "problem"),
    [
        ("O", "IOB2", None),
        ("B-geo-loc", "IOB2", None),
        ("E-PER", "BIOES", None),
        ("E-PER", "IOB2", "unknown tag prefix in 'E-PER' (IOB2 tags are O or B-TYPE, I-TYPE)"),
        ("PER", "IOB1", "unknown tag prefix in 'PER' (IOB1 tags are O or B-TYPE, I-TYPE)"),
        ("o", "IOB2", "unknown tag prefix in 'o'"),
        ("B-", "BIOES", "no entity type in 'B-' (BIOES tags are O or B-TYPE, I-TYPE, E-TYPE, S-TYPE)"),
    ],
)
def test_tag_problem(tag, scheme, problem):
    found = tag_problem(tag, scheme)
    assert found == problem if problem is None else found.startswith(problem)


def test_an_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown tag scheme 'BIO'"):
        to_iob2(["O"], "BIO")


def test_entity_scores_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-PER", "I-PER"]]  # right, wrong type, wrong end
    scores = entity_scores(gold, predicted)
    assert scores == {
        "precision": 1 / 3,
        "recall": 1 / 3,
        "f1": pytest.approx(1 / 3),
        "LOC/precision": 0.0,  # nothing predicted: 0, as seqeval says
        "LOC/recall": 0.0,
        "LOC/f1": 0.0,
        "ORG/precision": 0.0,
        "ORG/recall": 0.0,  # nothing to find: 0
        "ORG/f1": 0.0,
        "PER/precision": 0.5,
        "PER/recall": 0.5,
        "PER/f1": 0.5,
    }


def test_entity_scores_without_any_entity_are_zero():
    assert entity_scores([["O", "O"]], [["O", "O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert entity_scores([], []) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_entity_scores_need_a_prediction_per_tag():
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        entity_scores([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        entity_scores([["O"], ["O"]], [["O"]])


TAGS = ["O", "O", "O", *(f"{prefix}-{kind}" for kind in ("PER", "LOC", "geo-loc") for prefix in "BI")]


def random_corpus(rng: random.Random) -> tuple[list[list[str]], list[list[str]]]:
    """Gold tags, any sequence (I- after O too), and predictions that agree with them about half the time."""
    gold = [[rng.choice(TAGS) for _ in range(rng.randint(0, 10))] for _ in range(rng.randint(1, 6))]
    predicted = [[tag if rng.random() < 0.5 else rng.choice(TAGS) for tag in sentence] for sentence in gold]
    return gold, predicted


def test_entity_spans_are_seqevals_entities():
    rng = random.Random(0)
    for _ in range(500):
        tags = [rng.choice(TAGS) for _ in range(rng.randint(0, 12))]
        assert entity_spans(tags) == [(kind, first, last + 1) for kind, first, last in get_entities(tags)]


def test_entity_scores_are_seqevals_exactly():
    rng = random.Random(0)
    for _ in range(300):
        gold, predicted = random_corpus(rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # seqeval warns about every zero division
            expected = {
                "precision": precision_score(gold, predicted),
                "recall": recall_score(gold, predicted),
                "f1": f1_score(gold, predicted),
            }
            report = classification_report(gold, predicted, output_dict=True)
        for kind, figures in report.items():
            if not kind.endswith(" avg"):
                expected |= {f"{kind}/{name}": figures[name] for name in ("precision", "recall")}
                expected[f"{kind}/f1"] = figures["f1-score"]
        assert entity_scores(gold, predicted) == expected, (gold, predicted)


def test_tagging_imports_only_the_standard_library():
    """Serving imports it: no torch, numpy or other third-party module may come with it."""
    code = (
        "import json, sys; import nlpops.tagging; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules} - sys.stdlib_module_names)))"
    )
    assert [name for name in run_python_json(code) if not name.startswith(("nlpops", "_"))] == []
