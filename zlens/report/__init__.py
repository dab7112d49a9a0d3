"""See the latent space: figures, an epoch-by-epoch animation, a self-contained report page, and
TensorBoard's Embedding Projector files. Everything reads a `Run` (or a run directory's path).

    zlens.report.build_report("runs/digits")                     # runs/digits/report.html + GIF
    zlens.report.latent_scatter(run, epoch=-1, method="pca")     # a matplotlib Figure
    zlens.report.export_projector(run, "tb/digits")              # tensorboard --logdir tb/digits

Submodules are imported on first use, so `import zlens.report` does not import matplotlib.
"""

from importlib import import_module

_LAZY = {
    "build_report": "zlens.report.page",
    "export_projector": "zlens.report.projector",
    "write_scalars": "zlens.report.projector",
    "latent_scatter": "zlens.report.figures",
    "loss_curves": "zlens.report.figures",
    "recon_error_histogram": "zlens.report.figures",
    "separation_curve": "zlens.report.figures",
    "reconstruction_grid": "zlens.report.figures",
    "movement": "zlens.report.figures",
    "latent_frames": "zlens.report.frames",
    "latent_points": "zlens.report.frames",
    "write_gif": "zlens.report.frames",
    "separation_scores": "zlens.report.analysis",
    "movement_scores": "zlens.report.analysis",
    "Projection": "zlens.report.projection",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zlens.report' has no attribute {name!r}")
