"""NER's W&B error analysis: the rows of its per-type table and of its wrong-entities table."""

from nlpops.callbacks.ner_report import marked, type_rows, wrong_rows

TOKENS = [["Ana", "Lopez", "flew", "to", "New", "York"], ["Osaka", "is", "far"], ["hi"]]
GOLD = [["B-person", "I-person", "O", "O", "B-place", "I-place"], ["B-place", "O", "O"], ["O"]]
PREDICTED = [["B-person", "O", "O", "O", "B-place", "I-place"], ["B-place", "O", "B-person"], ["O"]]


def test_entities_are_marked_in_the_sentence():
    assert marked(TOKENS[0], GOLD[0]) == "[Ana Lopez](person) flew to [New York](place)"
    assert marked(TOKENS[0], PREDICTED[0]) == "[Ana](person) Lopez flew to [New York](place)"
    assert marked(["hi"], ["O"]) == "hi"


def test_wrong_rows_hold_the_sentences_with_wrong_entities_most_wrong_first():
    assert wrong_rows(TOKENS, GOLD, PREDICTED) == [
        ("[Ana Lopez](person) flew to [New York](place)", "[Ana](person) Lopez flew to [New York](place)", 2),
        ("[Osaka](place) is far", "[Osaka](place) is [far](person)", 1),
    ]


def test_wrong_rows_show_only_the_words_the_model_saw():
    assert wrong_rows([["Ana", "Lopez", "cut"]], [["B-person", "I-person"]], [["O", "O"]]) == [
        ("[Ana Lopez](person)", "Ana Lopez", 1)
    ]


def test_type_rows_score_each_type_and_count_its_gold_entities():
    assert type_rows(GOLD, PREDICTED) == [("person", 0.0, 0.0, 0.0, 1), ("place", 1.0, 1.0, 1.0, 2)]
