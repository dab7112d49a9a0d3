"""The one argument-check style: the argument named, what it accepts, what it got, in the
caller's error class."""

import numpy as np
import pytest

from zlens.checks import check_choice, check_count
from zlens.errors import DataError, ModelError, ZlensError


def test_a_choice_names_the_argument_the_choices_and_the_value():
    assert check_choice("capture", "both", ("in-flight", "consistent", "both")) == "both"
    with pytest.raises(ZlensError, match=r"^capture must be one of in-flight, both or None; got 'all'\.$"):
        check_choice("capture", "all", ("in-flight", "both"), or_also="None")
    with pytest.raises(ModelError):
        check_choice("model", "mlp", ("dense",), error=ModelError)


@pytest.mark.parametrize("bad", [0, -3, True, 2.0, "4", None])
def test_a_count_is_an_integer_of_at_least_one(bad):
    with pytest.raises(DataError, match=rf"^batch_size must be an integer >= 1; got {bad!r}\.$"):
        check_count("batch_size", bad, error=DataError)


def test_a_count_takes_numpy_integers_and_says_what_it_means():
    assert check_count("epochs", np.int64(3)) == 3 and type(check_count("epochs", np.int64(3))) is int
    with pytest.raises(ZlensError, match=r"encoding_dim must be an integer >= 1 \(the size of z\); got 0"):
        check_count("encoding_dim", 0, meaning="the size of z")
