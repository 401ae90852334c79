"""Reverse discounted cumulative sum in torch without a Python loop over time steps (GAE)."""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=64)
def _decay_operators(n: int, g: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(M^T, tail), float32: M [n, n] with M[i, j] = g**(j - i) for j >= i else 0, and
    tail [n] = g**(n - i), the weight of the next chunk's first value (built in float64)."""
    idx = torch.arange(n, dtype=torch.float64)
    expo = idx[None, :] - idx[:, None]
    powers = torch.pow(torch.tensor(g, dtype=torch.float64), expo.clamp(min=0))
    decay = torch.where(expo >= 0, powers, torch.zeros_like(powers))
    tail = torch.pow(torch.tensor(g, dtype=torch.float64), n - idx)
    return decay.T.contiguous().to(device, torch.float32), tail.to(device, torch.float32)


def discounted_reverse_cumsum(x: torch.Tensor, g: float, chunk: int = 16) -> torch.Tensor:
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
    xc = (x if n * C == T else F.pad(x, (0, n * C - T))).reshape(B, n, C)
    decay_t, tail = _decay_operators(C, float(g), x.device)
    local = torch.matmul(xc, decay_t)  # each chunk solved as if nothing came after it
    if n == 1:
        return local.reshape(B, C)[:, :T]
    starts = discounted_reverse_cumsum(local[:, :, 0].contiguous(), g**C, chunk)
    carry = F.pad(starts[:, 1:], (0, 1))  # y at the first step of the next chunk
    local.addcmul_(carry[:, :, None], tail)
    return local.reshape(B, n * C)[:, :T]
