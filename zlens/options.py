"""The values of zlens' options that more than one layer checks (library, CLI), in one place
that imports nothing heavy, so the CLI can refuse a bad value before TensorFlow loads."""

from zlens.checks import check_choice
from zlens.kinds import CONSISTENT, IN_FLIGHT, KINDS, SPLITS, TRAIN

#: What `capture=` (`zlens train --capture`) keeps: the kinds of z each choice captures.
CAPTURE_CHOICES = {"in-flight": (IN_FLIGHT,), "consistent": (CONSISTENT,), "both": (IN_FLIGHT, CONSISTENT)}

#: Where the capture buffers live (`tap_storage=`, `--tap-storage`; "auto" picks one of these).
TAP_STORAGES = ("device", "host", "stream")

#: The `tf.distribute` strategies zlens makes by name (`strategy=`, `--strategy`).
STRATEGY_NAMES = ("mirrored", "multi-worker")

#: The 2-D projections of z for plots and the page (`method=`, `--method`).
PROJECTION_METHODS = ("pca", "tsne", "umap")

#: How training values are prepared (`scale=`, `zlens train --scale`; see `zlens.data.preprocess`).
SCALE_CHOICES = ("auto", "minmax", "standard", "none")

#: The file formats one captured matrix is exported to (`zlens export --to`, also "projector").
EXPORT_FORMATS = ("npy", "csv", "parquet")

__all__ = ["CAPTURE_CHOICES", "EXPORT_FORMATS", "KINDS", "MODEL_NAMES", "NONFINITE_CHOICES", "PROJECTION_METHODS",
           "SCALE_CHOICES", "SPLITS", "STRATEGY_NAMES", "TAP_STORAGES", "TRAIN", "check_nonfinite_choice"]

#: The autoencoders zlens builds by name (`zlens.models.build`, `zlens train --model`).
MODEL_NAMES = ("dense", "conv", "vae")

#: What training does when a loss or a captured value is NaN or infinite (`on_nonfinite=`,
#: `zlens train --on-nonfinite`): stop before committing that epoch, or commit it and flag it.
NONFINITE_CHOICES = ("stop", "record")


def check_nonfinite_choice(on_nonfinite: str) -> str:
    """`on_nonfinite` itself, or a `ZlensError` naming the choices."""
    return check_choice("on_nonfinite", on_nonfinite, NONFINITE_CHOICES)
