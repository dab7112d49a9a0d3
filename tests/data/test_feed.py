"""`prepare_training_data`: which samples are kept on the device, and the order they are visited in."""

import numpy as np

from zlens.data.epoch_order import EpochOrder
from zlens.data.feed import ORDER_BYTES_PER_SAMPLE, prepare_training_data


def test_the_resident_budget_counts_the_visiting_order():
    x = np.random.default_rng(0).random((500, 8), dtype=np.float32)
    need = x.nbytes + ORDER_BYTES_PER_SAMPLE * len(x)
    held = prepare_training_data(x, batch_size=64, sample_budget=need)
    assert held.resident is x and isinstance(held.order, EpochOrder)
    assert [b.numpy().tolist() for b in held.train][0] == list(range(64))  # positions, not samples
    streamed = prepare_training_data(x, batch_size=64, sample_budget=need - 1)
    assert streamed.resident is None and streamed.order is None


def test_each_epoch_is_a_permutation_fixed_by_seed_and_epoch():
    order = EpochOrder(1000, seed=4)
    first, second = order.permutation(0).numpy(), order.permutation(1).numpy()
    assert sorted(first.tolist()) == list(range(1000)) and not np.array_equal(first, second)
    np.testing.assert_array_equal(EpochOrder(1000, seed=4).permutation(1).numpy(), second)
    np.testing.assert_array_equal(EpochOrder(1000, shuffle=False, seed=4).permutation(3).numpy(), np.arange(1000))
