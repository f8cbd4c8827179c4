"""Classification's serving code: the one place labels are scored (evaluation and export parity use it)."""

from __future__ import annotations

import pytest

from nlpops.errors import UserError
from nlpops.serving.classification import check_labels_known, scores


def test_scores_are_accuracy_and_per_label_precision_recall_f1() -> None:
    gold = ["pos", "pos", "pos", "neg"]
    predicted = ["pos", "neg", "pos", "neg"]
    metrics = scores(gold, predicted, ["neg", "pos"], prefix="test/")
    assert metrics["test/acc"] == 0.75
    assert (metrics["test/pos/precision"], metrics["test/pos/recall"]) == (1.0, 2 / 3)
    assert (metrics["test/neg/precision"], metrics["test/neg/recall"]) == (0.5, 1.0)
    assert metrics["test/pos/f1"] == pytest.approx(0.8) and metrics["test/neg/f1"] == pytest.approx(2 / 3)
    assert metrics["test/f1"] == pytest.approx((0.8 + 2 / 3) / 2)  # macro


def test_a_label_never_predicted_nor_present_scores_zero_not_a_division_error() -> None:
    metrics = scores(["a", "a"], ["a", "a"], ["a", "b"])
    assert metrics["acc"] == 1.0 and metrics["b/f1"] == 0.0 and metrics["f1"] == 0.5


def test_labels_a_model_cannot_predict_are_a_user_error() -> None:
    check_labels_known(["fresh", "rotten", "fresh"], ["fresh", "rotten"], "models/x")  # all known: no error
    with pytest.raises(UserError, match=r"labels \['meh'\] that the model at models/x does not know"):
        check_labels_known(["fresh", "meh"], ["fresh", "rotten"], "models/x")
