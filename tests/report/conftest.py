"""A small real run for the report tests: 200 x 16 synthetic samples, 4 string labels (one hostile)."""

import numpy as np
import pytest
from report_data import make_data


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """A finished run directory: dense, d = 2, 3 epochs, both kinds, validation loss, string labels.

    The first seed whose z varies in both coordinates is used, so the scatter has something to
    show (the default latent is linear; the loop guards a change of that default).
    """
    import zlens

    x, labels = make_data()
    root = tmp_path_factory.mktemp("report")
    for seed in (5, 2, 3, 6, 7):
        run = zlens.fit("dense", x, epochs=3, encoding_dim=2, labels=labels, run_dir=root / f"small-{seed}",
                        capture="both", seed=seed, validation_data=x[:40])
        if np.all(run.z(kind="consistent").std(axis=0) > 0):
            return run
    raise AssertionError("every seed gave a dead latent unit: the dense model cannot be tested at d = 2")
