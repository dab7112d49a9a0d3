"""The machine a table was measured on: CPU, cores, memory, library versions, device, load."""

from __future__ import annotations

import os
import platform
from importlib import metadata
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
    """A JSON-ready description of this machine and of the libraries the suite runs.

    Versions are read from the installed packages: the suite's own process imports no
    framework (each row's process reports its threads itself).
    """
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    desc = {
        "cpu": info.get("model name") or platform.processor() or "unknown",
        "cpu_family_model": f"{info.get('cpu family', '?')}/{info.get('model', '?')}",
        "simd": sorted(flags & {"avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"}),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        **{name: _version(name) for name in ("tensorflow", "keras", "numpy", "torch")},
        "device": device,
        "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
        "load_average_start": load_average(),
    }
    if device == "gpu":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        desc["gpu"] = details.get("device_name", "GPU:0")
    return desc


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def one_line(desc: dict) -> str:
    """The description as the table's header line."""
    device = desc["device"] + (f" ({desc['gpu']})" if desc.get("gpu") else "")
    torch = f", torch {desc['torch']}" if desc.get("torch") else ", torch not installed"
    return (
        f"{desc['cpu']} (family/model {desc['cpu_family_model']}, {'/'.join(desc['simd']) or 'no AVX'}), "
        f"{desc['cores']} cores, {desc['memory_gib']} GiB; TF {desc['tensorflow']}, Keras {desc['keras']}, "
        f"NumPy {desc['numpy']}{torch}; device {device}"
    )
