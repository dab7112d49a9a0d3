"""Row 5 and a PyTorch encode row: an eager loop scattering z into a preallocated matrix.

PyTorch is optional: without it both rows are skipped with a note. The loop is DataLoader-
free: `torch.randperm` shuffles the indices each epoch, a batch is `x[idx]`, and
`z_all[idx] = z.detach()` keeps row i = sample i.
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.probe import ENCODE, TRAINING, Probe, Row, skipped, timed
from benchmarks.work import FEATURES, HIDDEN, LATENT, LEARNING_RATE, SEED

TORCH = Row("torch", "pytorch eager loop, index scatter", TRAINING,
            "randperm; x[idx]; Adam step; z_all[idx] = z.detach(); z_all to host")
TORCH_ENCODE = Row("encode-torch", "pytorch no_grad batched", ENCODE, "encoder(x[s:s+b]) into a preallocated z")


def _modules(torch, device: str):
    nn = torch.nn
    torch.manual_seed(SEED)
    encoder = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, LATENT), nn.ReLU())
    decoder = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, FEATURES), nn.Sigmoid())
    return encoder.to(device), decoder.to(device)


def _setup(ctx: Context):
    """(torch, encoder, decoder, x on the device), or a reason the torch rows cannot run."""
    try:
        import torch
    except ImportError:
        return "skipped: torch not installed (pip install torch)"
    if ctx.device == "gpu" and not torch.cuda.is_available():
        return "skipped: this torch build has no CUDA device"
    encoder, decoder = _modules(torch, ctx.torch_device)
    return torch, encoder, decoder, torch.from_numpy(ctx.x).to(ctx.torch_device)


def training_probe(ctx: Context) -> Probe:
    """One epoch of the eager loop with the index scatter."""
    setup = _setup(ctx)
    if isinstance(setup, str):
        return skipped([TORCH], setup)
    torch, encoder, decoder, x = setup
    device = ctx.torch_device
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=LEARNING_RATE)
    n, batch = len(ctx.x), ctx.sizes.batch
    z_all = torch.empty((n, LATENT), device=device)

    def epoch():
        perm = torch.randperm(n, device=device)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            xb = x[idx]
            z = encoder(xb)
            loss = torch.nn.functional.mse_loss(decoder(z), xb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            z_all[idx] = z.detach()
        return z_all.cpu().numpy()

    info = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    return Probe([TORCH], timed(epoch, TORCH.key), info=info)


def encode_probe(ctx: Context) -> Probe:
    """One `no_grad` batched encode of x into a preallocated z."""
    setup = _setup(ctx)
    if isinstance(setup, str):
        return skipped([TORCH_ENCODE], setup)
    torch, encoder, _, x = setup
    encoder.eval()
    n, batch, device = len(ctx.x), ctx.sizes.encode_batch, ctx.torch_device

    def encode():
        out = torch.empty((n, LATENT), device=device)
        with torch.no_grad():
            for start in range(0, n, batch):
                out[start : start + batch] = encoder(x[start : start + batch])
        return out.cpu().numpy()

    return Probe([TORCH_ENCODE], timed(encode, TORCH_ENCODE.key))
