"""A small real run for the report tests: 200 x 16 synthetic samples, 4 string labels (one hostile)."""

import pytest
from report_data import make_data


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """A finished run directory: dense, d = 2, 3 epochs, both kinds, validation loss, string labels."""
    import zlens

    x, labels = make_data()
    path = tmp_path_factory.mktemp("report") / "small"
    return zlens.fit("dense", x, epochs=3, encoding_dim=2, labels=labels, run_dir=path, capture="both",
                     seed=0, validation_data=x[:40])
