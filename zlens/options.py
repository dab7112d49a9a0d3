"""The values of zlens' options that more than one layer checks (library, CLI), in one place
that imports nothing heavy, so the CLI can refuse a bad value before TensorFlow loads."""

#: The autoencoders zlens builds by name (`zlens.models.build`, `zlens train --model`).
MODEL_NAMES = ("dense", "conv", "vae")

#: What training does when a loss or a captured value is NaN or infinite (`on_nonfinite=`,
#: `zlens train --on-nonfinite`): stop before committing that epoch, or commit it and flag it.
NONFINITE_CHOICES = ("stop", "record")


def check_nonfinite_choice(on_nonfinite: str) -> str:
    """`on_nonfinite` itself, or a `ZlensError` naming the choices."""
    from zlens.errors import ZlensError

    if on_nonfinite not in NONFINITE_CHOICES:
        raise ZlensError(f"on_nonfinite must be one of {', '.join(map(repr, NONFINITE_CHOICES))}; "
                         f"got {on_nonfinite!r}.")
    return on_nonfinite
