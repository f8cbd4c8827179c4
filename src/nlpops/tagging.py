"""Tag schemes and entity-level scoring for token classification (named-entity recognition).

Standard library only: training, export and serving all use it, and serving must not import torch or numpy.
Tags are ``O`` or ``PREFIX-TYPE`` (``B-person``; the type may itself contain ``-``, as in ``B-geo-loc``). Data in
IOB1 or BIOES is converted to IOB2 on reading, so the model, its metrics and serving only ever see IOB2.
Entities follow seqeval's default mode (the CoNLL evaluation script's rules): an ``I-`` after ``O`` or after
another type starts an entity, and a ``B-`` always does; ``entity_scores`` gives seqeval's figures exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

SCHEMES = ("IOB2", "IOB1", "BIOES")
OUTSIDE = "O"
PREFIXES = {"IOB2": ("B", "I"), "IOB1": ("B", "I"), "BIOES": ("B", "I", "E", "S")}
_TO_IOB2 = {"B": "B", "I": "I", "E": "I", "S": "B"}  # BIOES: a single is a beginning, an end is an inside

Span = tuple[str, int, int]  # (entity type, first token, end token exclusive)


def split_tag(tag: str) -> tuple[str, str]:
    """``(prefix, type)`` of a tag: ``("B", "geo-loc")`` for ``B-geo-loc``, ``("O", "")`` for ``O``."""
    prefix, _, entity_type = tag.partition("-")
    return prefix, entity_type


def tag_problem(tag: str, scheme: str) -> str | None:
    """Why ``tag`` is not a valid tag of ``scheme`` (None when it is), in words for an error message."""
    if tag == OUTSIDE:
        return None
    prefixes = PREFIXES[_checked(scheme)]
    prefix, entity_type = split_tag(tag)
    spelled = f"{scheme} tags are O or {', '.join(f'{p}-TYPE' for p in prefixes)}"
    if prefix not in prefixes:
        return f"unknown tag prefix in {tag!r} ({spelled})"
    if not entity_type:
        return f"no entity type in {tag!r} ({spelled})"
    return None


def to_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """``tags`` (valid in ``scheme``) in IOB2: every entity starts with ``B-``.

    IOB1 marks only a beginning that follows an entity of the same type with ``B-``: any ``I-`` that starts
    an entity becomes ``B-``. BIOES's ``S-`` becomes ``B-`` and ``E-`` becomes ``I-``.
    """
    if _checked(scheme) == "BIOES":
        return [tag if tag == OUTSIDE else f"{_TO_IOB2[split_tag(tag)[0]]}-{split_tag(tag)[1]}" for tag in tags]
    if scheme == "IOB1":
        previous = OUTSIDE
        converted = []
        for tag in tags:
            prefix, entity_type = split_tag(tag)
            starts = prefix == "I" and (previous == OUTSIDE or split_tag(previous)[1] != entity_type)
            converted.append(f"B-{entity_type}" if starts else tag)
            previous = tag
        return converted
    return list(tags)


def entity_spans(tags: Sequence[str]) -> list[Span]:
    """The entities of one IOB2 sentence as ``(type, first, end)`` (end exclusive), in seqeval's default mode."""
    spans: list[Span] = []
    current: tuple[str, int] | None = None  # the open entity: (type, first token)
    for index, tag in enumerate(tags):
        prefix, entity_type = split_tag(tag)
        continues = current is not None and prefix == "I" and entity_type == current[0]
        if current is not None and not continues:
            spans.append((current[0], current[1], index))
            current = None
        if tag != OUTSIDE and not continues:
            current = (entity_type, index)
    if current is not None:
        spans.append((current[0], current[1], len(tags)))
    return spans


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level precision, recall and F1: micro over all entities, and ``<type>/<metric>`` per type.

    An entity counts as found only with the same type and the same first and last token. Every type in the gold
    or the predicted tags gets its figures; an undefined ratio (nothing predicted, nothing to find) is 0.0, as in
    seqeval.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    found, true, guessed = Counter(), Counter(), Counter()
    for sentence, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted, strict=True)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(f"sentence {sentence}: {len(gold_tags)} gold tags but {len(predicted_tags)} predicted")
        gold_spans, predicted_spans = set(entity_spans(gold_tags)), set(entity_spans(predicted_tags))
        true.update(span[0] for span in gold_spans)
        guessed.update(span[0] for span in predicted_spans)
        found.update(span[0] for span in gold_spans & predicted_spans)
    scores = _scores(found.total(), true.total(), guessed.total())
    for entity_type in sorted(true | guessed):
        figures = _scores(found[entity_type], true[entity_type], guessed[entity_type])
        scores |= {f"{entity_type}/{name}": value for name, value in figures.items()}
    return scores


def _scores(found: int, true: int, guessed: int) -> dict[str, float]:
    precision = found / guessed if guessed else 0.0
    recall = found / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _checked(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}: one of {', '.join(SCHEMES)}")
    return scheme
