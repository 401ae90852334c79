"""Reverse discounted cumulative sum without a Python loop over time steps."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _decay_matrix(n: int, g: float, device: torch.device) -> torch.Tensor:
    """[n, n] float32 with M[i, j] = g**(j - i) for j >= i, else 0 (built in float64)."""
    idx = torch.arange(n, device=device, dtype=torch.float64)
    expo = idx[None, :] - idx[:, None]
    powers = torch.pow(torch.tensor(g, dtype=torch.float64, device=device), expo.clamp(min=0))
    return torch.where(expo >= 0, powers, torch.zeros_like(powers)).to(torch.float32)


def discounted_reverse_cumsum(x: torch.Tensor, g: float, chunk: int = 32) -> torch.Tensor:
    """y_t = x_t + g * y_{t+1} along dim 1 (y after the end = 0), for x [B, T] float32.

    Blocked scan: each chunk of `chunk` steps is solved with one small matmul; the
    chunk-start values then form the same recurrence with factor g**chunk, solved
    recursively. No negative powers of g, so it is stable for any g in [0, 1].
    """
    B, T = x.shape
    if T <= 1:
        return x.clone()
    C = min(chunk, T)
    n = -(-T // C)
    xc = F.pad(x, (0, n * C - T)).view(B, n, C)
    local = torch.matmul(xc, _decay_matrix(C, g, x.device).T)  # zero carry into each chunk
    if n == 1:
        return local.reshape(B, C)[:, :T]
    starts = discounted_reverse_cumsum(local[:, :, 0].contiguous(), g**C, chunk)
    carry = F.pad(starts[:, 1:], (0, 1))  # y at the first step of the next chunk
    tail = torch.pow(torch.tensor(g, dtype=torch.float64), torch.arange(C, 0, -1, dtype=torch.float64))
    out = local + tail.to(device=x.device, dtype=torch.float32)[None, None, :] * carry[:, :, None]
    return out.reshape(B, n * C)[:, :T]
