from collections import Counter

from nlpops.data.splits import stratified_split


def test_split_is_a_stratified_partition():
    keys = ["a"] * 60 + ["b"] * 40
    val, test, train = stratified_split(keys, (0.1, 0.2), seed=0)
    assert sorted(val + test + train) == list(range(100))
    assert Counter(keys[i] for i in val) == {"a": 6, "b": 4}
    assert Counter(keys[i] for i in test) == {"a": 12, "b": 8}
    assert len(train) == 70


def test_split_depends_only_on_the_seed():
    keys = [i % 3 for i in range(90)]
    assert stratified_split(keys, (0.2,), seed=1) == stratified_split(keys, (0.2,), seed=1)
    assert stratified_split(keys, (0.2,), seed=1) != stratified_split(keys, (0.2,), seed=2)
