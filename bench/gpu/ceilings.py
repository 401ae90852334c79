"""The device's own ceilings, measured in the same run: copy bandwidth and bf16 matmul rate."""
from __future__ import annotations

import torch

from bench.gpu.timing import median_seconds


def copy_bandwidth_gbs(device: torch.device, mib: int) -> float:
    """GB/s of `dst.copy_(src)` over `mib` MiB of float32 (read + write counted)."""
    n = mib * 2**20 // 4
    src = torch.rand(n, device=device)
    dst = torch.empty_like(src)
    seconds = median_seconds(lambda: dst.copy_(src), device, repeats=10, warmup=2)
    return 2 * n * 4 / seconds / 1e9


def matmul_tflops(device: torch.device, size: int) -> float:
    """TFLOP/s of a [size, size] @ [size, size] matmul in bf16 (float32 on CPU, where bf16 is emulated)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds = median_seconds(lambda: a @ b, device, repeats=10, warmup=2)
    return 2 * size**3 / seconds / 1e12
