from nlpops.data.samplers import EpochShuffleSampler

LENGTHS = [(i * 7) % 23 + 1 for i in range(101)]


def test_each_epoch_is_a_permutation_fixed_by_seed_and_epoch():
    sampler = EpochShuffleSampler(LENGTHS, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(101))
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    resumed = EpochShuffleSampler(LENGTHS, seed=3)
    resumed.set_epoch(1)
    assert list(resumed) == second


def test_grouping_keeps_similar_lengths_together_and_the_short_batch_last():
    sampler = EpochShuffleSampler(LENGTHS, seed=0, group_batch_size=10)
    order = list(sampler)
    assert sorted(order) == list(range(101))
    batches = [order[i : i + 10] for i in range(0, 101, 10)]
    assert len(batches[-1]) == 1
    spread = sum(max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in batches[:-1])
    random_spread = sum(
        max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b)
        for b in (list(EpochShuffleSampler(LENGTHS, seed=0))[i : i + 10] for i in range(0, 100, 10))
    )
    assert spread < random_spread / 3
