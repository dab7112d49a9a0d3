"""The two meanings of "z for this epoch" that zlens captures, by name.

in-flight: from the training forward pass (free; each row at the weights of the step that saw
it, in training mode). consistent: an inference-mode pass with the epoch's final weights.
"""

IN_FLIGHT = "in-flight"
CONSISTENT = "consistent"
KINDS = (IN_FLIGHT, CONSISTENT)

# The samples a run's latents are of: those it trains on, and held-out samples (validation data)
# encoded at each captured epoch's final weights (consistent only: they are never trained on).
TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)


def group_of(kind: str, split: str = TRAIN) -> str:
    """Where the latent store keeps the `kind` matrices of `split`: "consistent" for the training
    samples (as before splits existed), "validation/consistent" for held-out ones.

    Example:
        >>> group_of("consistent"), group_of("consistent", "validation")
        ('consistent', 'validation/consistent')
    """
    return kind if split == TRAIN else f"{split}/{kind}"
