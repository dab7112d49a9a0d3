"""The values of zlens' options that more than one layer checks (library, CLI), in one place
that imports nothing heavy, so the CLI can refuse a bad value before TensorFlow loads."""

#: The autoencoders zlens builds by name (`zlens.models.build`, `zlens train --model`).
MODEL_NAMES = ("dense", "conv", "vae")
