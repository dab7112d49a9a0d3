"""The reference work every row does: its sizes, its synthetic data and its FLOP counts.

One place says what "an epoch" and "an encode pass" are, so every row and the arithmetic
limit measure the same thing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

SEED = 0
FEATURES = 784
HIDDEN = 128
LATENT = 32
STREAM_FEATURES = 64
LEARNING_RATE = 1e-3
IMAGE = (28, 28, 1)  # the convolutional workload's images (zlens.models.conv's default)
CONV_LATENT = 16  # zlens.models.conv's default encoding_dim


@dataclass(frozen=True)
class Sizes:
    """How big each part of the suite is.

    Args:
        n_train: rows of the training data (N of the reference work).
        n_stream: rows of the streaming-encode scale point (features: `STREAM_FEATURES`).
        repeats: measured repetitions of every row (after one warm-up each).
        batch: training batch size.
        encode_batch: batch size of every encode row over the training data (zlens.encode's
            own choice for the reference encoder, `auto_batch_size`; every row runs it).
        stream_batch: batch size of both scale-point encodes (streamed and in memory).
        conv_batch: batch size of the convolutional workload.
        n_conv: images of the convolutional workload (`IMAGE`; the first n_conv rows of the
            training data, reshaped).
        n_large: rows of the dense workload past the resident budget (in memory and memory-mapped).
        large_budget: the resident budget those rows are held against (zlens' own, 2 GiB; the
            quick run lowers it so that its smaller N is past it too).
        heavy_repeats: repetitions of the rows whose epoch takes many seconds (conv, large);
            at most `repeats`.
    """

    n_train: int = 60_000
    n_stream: int = 1_000_000
    repeats: int = 10  # medians of 10 (>= 10 epochs of one fit for the capture cost; +-15% drift)
    batch: int = 256
    encode_batch: int = 8192
    stream_batch: int = 8192
    conv_batch: int = 128
    n_conv: int = 60_000
    n_large: int = 1_000_000
    large_budget: int = 2 * 1024**3
    heavy_repeats: int = 3

    def to_dict(self) -> dict:
        return asdict(self)

    def override(self, **changes) -> Sizes:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


FULL = Sizes()
QUICK = Sizes(n_train=12_000, n_stream=200_000, repeats=3, n_conv=4_000, n_large=50_000, large_budget=64 * 2**20,
              heavy_repeats=2)


def training_layers(features: int = FEATURES) -> list[tuple[int, int]]:
    """(in, out) of the four Dense layers: features -> 128 -> 32 -> 128 -> features."""
    return [(features, HIDDEN), (HIDDEN, LATENT), (LATENT, HIDDEN), (HIDDEN, features)]


def encoder_layers(features: int = FEATURES) -> list[tuple[int, int]]:
    """(in, out) of the encoder's two Dense layers: features -> 128 -> 32."""
    return training_layers(features)[:2]


def make_data(n: int, features: int = FEATURES, seed: int = SEED) -> np.ndarray:
    """n x features float32, uniform in [0, 1), the same for a given seed."""
    return np.random.default_rng(seed).random((n, features), dtype=np.float32)


def write_npy(path: Path, n: int, features: int, seed: int = SEED, chunk: int = 16_384) -> Path:
    """Write an n x features float32 `.npy` in [0, 1), chunk by chunk with plain file writes:
    never whole in memory, and no page of it mapped into (and counted in) this process' RSS."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (n, features)})
        for start in range(0, n, chunk):
            f.write(rng.random((min(n, start + chunk) - start, features), dtype=np.float32).tobytes())
    return path


# -- what is counted ------------------------------------------------------------------------
# A matmul (m, k) @ (k, n) is 2*m*k*n FLOPs. Per sample and Dense layer (in, out):
#   forward            x @ W             2*in*out
#   weight gradient    x^T @ dY          2*in*out
#   input gradient     dY @ W^T          2*in*out, for every layer but the first (nothing
#                                        needs the gradient of the data)
# so one training sample costs 6*S - 2*in0*out0 with S = sum(in*out) (S = 208,896 and
# 1,052,672 FLOPs here, vs 1,253,376 for the rough 6*S). Bias adds, activations, the loss and
# the Adam update are not counted: about 1,100 element-wise ops per sample and ~10 per weight
# per step, under 1.5% of the matmul FLOPs, and memory-bound rather than FLOP-bound.

COUNTED = (
    "matmul FLOPs only (2*m*k*n each): forward, weight gradients, and input gradients of every "
    "layer but the first; bias, activations, loss and Adam update not counted (<1.5%)"
)


def matmul_shapes_training(batch: int, features: int = FEATURES) -> list[tuple[int, int, int, bool, bool]]:
    """The 11 matmuls of one training step, as (m, k, n, transpose_a, transpose_b)."""
    shapes = []
    for i, (fan_in, fan_out) in enumerate(training_layers(features)):
        shapes.append((batch, fan_in, fan_out, False, False))  # forward: x @ W
        shapes.append((fan_in, batch, fan_out, True, False))  # weight grad: x^T @ dY
        if i > 0:
            shapes.append((batch, fan_out, fan_in, False, True))  # input grad: dY @ W^T
    return shapes


def matmul_shapes_encode(batch: int, features: int = FEATURES) -> list[tuple[int, int, int, bool, bool]]:
    """The 2 matmuls of one encoder forward step."""
    return [(batch, fan_in, fan_out, False, False) for fan_in, fan_out in encoder_layers(features)]


def flops_of(shapes) -> int:
    """FLOPs of a list of (m, k, n, ta, tb) matmuls."""
    return sum(2 * m * k * n for m, k, n, _, _ in shapes)


def training_flops(n: int, features: int = FEATURES) -> int:
    """Matmul FLOPs of one training epoch over n samples (see the note above)."""
    return n * flops_of(matmul_shapes_training(1, features))


def encode_flops(n: int, features: int = FEATURES) -> int:
    """Matmul FLOPs of encoding n samples."""
    return n * flops_of(matmul_shapes_encode(1, features))
