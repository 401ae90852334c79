"""Helpers shared by the benchmarks: device synchronisation and bandwidth bookkeeping."""
from __future__ import annotations

import torch


def synchronized(fn, device: torch.device):
    """Wrap `fn` so that a benchmark round ends when the device is idle."""
    if device.type != "cuda":
        return fn

    def run():
        out = fn()
        torch.cuda.synchronize(device)
        return out

    return run


def record_bandwidth(benchmark, nbytes: int) -> None:
    """Store bytes moved and achieved GB/s (from the mean round time) in the benchmark's extra_info."""
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["bytes"] = nbytes
    benchmark.extra_info["GB/s"] = round(nbytes / mean / 1e9, 2)
