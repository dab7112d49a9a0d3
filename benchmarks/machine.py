"""The machine a table was measured on: CPU, cores, memory, library versions, device, load."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpuinfo() -> dict[str, str]:
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model", "flags") and key not in fields:
                fields[key] = value.strip()
    except OSError:
        pass
    return fields


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (a shared machine's noise indicator), or None."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def describe(device: str) -> dict:
    """A JSON-ready description of this machine and of the libraries the suite runs."""
    import keras
    import numpy as np
    import tensorflow as tf

    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    desc = {
        "cpu": info.get("model name") or platform.processor() or "unknown",
        "cpu_family_model": f"{info.get('cpu family', '?')}/{info.get('model', '?')}",
        "simd": sorted(flags & {"avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"}),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "torch": _torch_version(),
        "device": device,
        "tf_threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                       "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
        "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
        "load_average_start": load_average(),
    }
    if device == "gpu":
        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        desc["gpu"] = details.get("device_name", "GPU:0")
    return desc


def _torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def one_line(desc: dict) -> str:
    """The description as the table's header line."""
    device = desc["device"] + (f" ({desc['gpu']})" if desc.get("gpu") else "")
    torch = f", torch {desc['torch']}" if desc.get("torch") else ", torch not installed"
    return (
        f"{desc['cpu']} (family/model {desc['cpu_family_model']}, {'/'.join(desc['simd']) or 'no AVX'}), "
        f"{desc['cores']} cores, {desc['memory_gib']} GiB; TF {desc['tensorflow']}, Keras {desc['keras']}, "
        f"NumPy {desc['numpy']}{torch}; device {device}"
    )
