"""`zlens.plot`: the report's figures from Python, each returned as a matplotlib `Figure`.

    fig = zlens.plot.latent_scatter(zlens.open_run("runs/digits"), epoch=-1, method="pca")
    fig.savefig("z.png", dpi=200)

The same functions as `zlens.report.figures` (which holds them), re-exported under a short name.
"""

from zlens.report.figures import (
                                  latent_scatter,
                                  loss_curves,
                                  movement,
                                  recon_error_histogram,
                                  reconstruction_grid,
                                  separation_curve,
)
from zlens.report.held_out import train_vs_validation, validation_errors

__all__ = ["latent_scatter", "loss_curves", "recon_error_histogram", "separation_curve",
           "reconstruction_grid", "movement", "train_vs_validation", "validation_errors"]
