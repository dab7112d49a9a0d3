"""The PyTorch rows: an eager training loop scattering z into a preallocated matrix, and encode.

PyTorch is optional (`pip install -e '.[bench]'`): without it these rows are skipped with a
note. Each runs in a process of its own (see `suite.py`), where TensorFlow is never imported.
The loop is the idiomatic DataLoader-free one: `torch.randperm` shuffles the indices each
epoch, a batch is `x[idx]`, and `z_all[idx] = z.detach()` keeps row i = sample i.

Threads: torch's OpenMP threads wait for each other at every op, so on this 2-core machine
one busy core elsewhere (another process) can make an epoch 10-30x slower at 2 threads, where
1 thread only loses the second core (`python -m benchmarks.torch_alongside`). So before each
repetition a few untimed steps run at 1 thread and at torch's default, and the repetition
runs at the faster: PyTorch gets its best thread count at that moment.
"""

from __future__ import annotations

import time

from benchmarks.context import Context
from benchmarks.probe import CONV, ENCODE, TRAINING, Probe, Row, skipped
from benchmarks.work import CONV_LATENT, FEATURES, HIDDEN, IMAGE, LATENT, LEARNING_RATE, SEED

TORCH = Row("torch", "pytorch eager loop, index scatter", TRAINING,
            "own process; randperm; x[idx]; Adam step; z_all[idx] = z.detach(); z_all to host")
TORCH_ENCODE = Row("encode-torch", "pytorch no_grad batched", ENCODE,
                   "own process; encoder(x[s:s+b]) into a preallocated z")
CONV_TORCH = Row("conv-torch", "pytorch eager loop, conv, index scatter", CONV,
                 "own process; the same layers as nn.Module (NCHW), the same loop as the dense row")


def _dense_modules(torch):
    nn = torch.nn
    encoder = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, LATENT), nn.ReLU())
    decoder = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, FEATURES), nn.Sigmoid())
    return encoder, decoder


def _conv_modules(torch, filters=(16, 32)):
    """`zlens.models.conv(IMAGE, CONV_LATENT)` layer for layer: stride-2 3x3 convs, a dense z,
    stride-2 transposed convs back, a sigmoid 3x3 conv (same shapes, same FLOPs)."""
    nn = torch.nn
    side = IMAGE[0] // 2 ** len(filters)
    encoder = nn.Sequential(
        nn.Conv2d(IMAGE[2], filters[0], 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(filters[0], filters[1], 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(filters[1] * side * side, CONV_LATENT),
    )
    decoder = nn.Sequential(
        nn.Linear(CONV_LATENT, filters[1] * side * side), nn.ReLU(), nn.Unflatten(1, (filters[1], side, side)),
        nn.ConvTranspose2d(filters[1], filters[1], 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(filters[1], filters[0], 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.Conv2d(filters[0], IMAGE[2], 3, padding=1), nn.Sigmoid(),
    )
    return encoder, decoder


def _setup(ctx: Context, modules, shape, n: int | None = None):
    """(torch, encoder, decoder, the first n rows of x on the device), or why the torch rows
    cannot run here."""
    try:
        import torch
    except ImportError:
        return "skipped: torch not installed (pip install -e '.[bench]')"
    if ctx.device == "gpu" and not torch.cuda.is_available():
        return "skipped: this torch build has no CUDA device"
    torch.manual_seed(SEED)
    encoder, decoder = (m.to(ctx.torch_device) for m in modules(torch))
    n = min(n or len(ctx.x), len(ctx.x))
    x = torch.from_numpy(ctx.x[:n].reshape(n, *shape)).to(ctx.torch_device)
    return torch, encoder, decoder, x


#: Untimed steps (or encode batches) per thread count that choose a repetition's threads.
CALIBRATION_STEPS = 8


def faster_threads(torch, run) -> int:
    """The faster of 1 thread and torch's default for `run()`; torch is left at its default."""
    default, times = torch.get_num_threads(), {}
    for threads in sorted({1, default}):
        torch.set_num_threads(threads)
        start = time.perf_counter()
        run()
        times[threads] = time.perf_counter() - start
    torch.set_num_threads(default)
    return min(times, key=times.get)


def at_faster_threads(torch, row: Row, calibrate, work, info: dict):
    """A `measure` for `row`: choose the threads (`faster_threads(calibrate)`), then time `work()`
    at them; the counts used are kept in `info["threads_used"]`."""

    def measure() -> dict[str, float]:
        threads, default = faster_threads(torch, calibrate), torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            start = time.perf_counter()
            work()
            seconds = time.perf_counter() - start
        finally:
            torch.set_num_threads(default)
        info.setdefault("threads_used", []).append(threads)
        return {row.key: seconds}

    return measure


def training_loop(torch, encoder, decoder, x, batch: int):
    """`epoch(steps=None)`: one epoch (or its first `steps` batches) of the eager loop over `x`
    with the index scatter (Adam, MSE), writing z into a preallocated matrix."""
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=LEARNING_RATE)
    n = len(x)
    z_all = torch.empty((n, encoder(x[:1]).shape[1]), device=x.device)

    def epoch(steps: int | None = None):
        perm = torch.randperm(n, device=x.device)
        for start in range(0, n if steps is None else min(n, steps * batch), batch):
            idx = perm[start : start + batch]
            xb = x[idx]
            z = encoder(xb)
            loss = torch.nn.functional.mse_loss(decoder(z), xb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            z_all[idx] = z.detach()
        return z_all.cpu().numpy()

    return epoch


def _training_probe(ctx: Context, row: Row, modules, shape, batch: int, n: int | None = None) -> Probe:
    """One epoch of the eager loop with the index scatter over n rows (default all), for `row`."""
    setup = _setup(ctx, modules, shape, n)
    if isinstance(setup, str):
        return skipped([row], setup)
    torch, encoder, decoder, x = setup
    epoch = training_loop(torch, encoder, decoder, x, batch)
    info = {"torch": torch.__version__}
    epoch(CALIBRATION_STEPS)  # warm-up: the first steps allocate
    return Probe([row], at_faster_threads(torch, row, lambda: epoch(CALIBRATION_STEPS), epoch, info), info=info,
                 warm_up=False)


def training_probe(ctx: Context) -> Probe:
    """One epoch of the dense model (784-128-32), batch `Sizes.batch`."""
    return _training_probe(ctx, TORCH, _dense_modules, (FEATURES,), ctx.sizes.batch)


def conv_training_probe(ctx: Context) -> Probe:
    """One epoch of the convolutional model on n_conv 1x28x28 images, batch `Sizes.conv_batch`."""
    probe = _training_probe(ctx, CONV_TORCH, _conv_modules, (IMAGE[2], *IMAGE[:2]), ctx.sizes.conv_batch,
                            ctx.sizes.n_conv)
    probe.heavy = True
    return probe


def encode_probe(ctx: Context) -> Probe:
    """One `no_grad` batched encode of x into a preallocated z."""
    setup = _setup(ctx, _dense_modules, (FEATURES,))
    if isinstance(setup, str):
        return skipped([TORCH_ENCODE], setup)
    torch, encoder, _, x = setup
    encoder.eval()
    n, batch, device = len(ctx.x), ctx.sizes.encode_batch, ctx.torch_device

    def encode(rows: int = n):
        out = torch.empty((rows, LATENT), device=device)
        with torch.no_grad():
            for start in range(0, rows, batch):
                out[start : start + batch] = encoder(x[start : min(rows, start + batch)])
        return out.cpu().numpy()

    info: dict = {}
    calibrate = lambda: encode(min(n, 2 * batch))  # noqa: E731
    return Probe([TORCH_ENCODE], at_faster_threads(torch, TORCH_ENCODE, calibrate, encode, info), info=info)
