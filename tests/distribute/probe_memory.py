"""Train on a memory-mapped .npy with streamed taps and report peak memory (run by the tests).

`python probe_memory.py N FEATURES D STORAGE OUT`: writes an (N, FEATURES) float32 .npy in OUT
without holding it in memory, trains one epoch of the dense model on it memory-mapped with
`tap_storage=STORAGE` (capture "both"), and writes OUT/memory.json: resident memory in MB at
the start of fit and at its peak, sampled every 20 ms: anonymous (the process' own allocations,
from /proc) and total RSS (psutil; it also counts pages of mapped files, such as x's).
"""

import json
import os
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import psutil  # noqa: E402

import zlens  # noqa: E402

n, features, d, storage, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]


def status(key: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024


path = os.path.join(out, "x.npy")
x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, features))
for start in range(0, n, 65536):
    x[start : start + 65536] = np.random.default_rng(start).random((min(65536, n - start), features), dtype=np.float32)
x.flush()
del x
x = np.load(path, mmap_mode="r")
zlens.models.dense(features, d)  # TensorFlow and Keras up before the baseline
process = psutil.Process()
peak, peak_rss, stop = [0.0], [0.0], threading.Event()


def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], status("RssAnon"))
        peak_rss[0] = max(peak_rss[0], process.memory_info().rss / 2**20)
        time.sleep(0.02)


base_anon, base_rss = status("RssAnon"), process.memory_info().rss / 2**20
threading.Thread(target=sample, daemon=True).start()
t0 = time.monotonic()
run = zlens.fit("dense", x, epochs=1, batch_size=2048, capture="both", encoding_dim=d, seed=0,
                run_dir=os.path.join(out, "run"), tap_storage=storage, buffer_budget=2**20)
seconds = time.monotonic() - t0
stop.set()
peak[0] = max(peak[0], status("RssAnon"))
json.dump({"n": n, "features": features, "d": d, "storage": run.summary()["config"]["tap_storage"],
           "seconds": seconds, "base_anon_mb": base_anon, "peak_anon_mb": peak[0],
           "base_rss_mb": base_rss, "peak_rss_mb": max(peak_rss[0], process.memory_info().rss / 2**20),
           "data_mb": n * (features + 2 * (d + 1)) * 4 / 2**20}, open(os.path.join(out, "memory.json"), "w"))
