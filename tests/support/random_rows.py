"""Random right-padded batches with the edge cases every step kernel must survive."""
from __future__ import annotations

from dataclasses import dataclass

import torch

SEPARATORS = (1, 2)
VOCAB = 7


@dataclass
class Batch:
    tokens: torch.Tensor  # [B, T] int64
    lengths: torch.Tensor  # [B] int64
    mask: torch.Tensor  # [B, T] bool

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.tokens.shape)


def random_batch(B: int, T: int, gen: torch.Generator, device="cpu") -> Batch:
    """Lengths include 0, 1 and T; one row has no separator, one is all separators,
    one has long separator runs, one starts with a separator."""
    tokens = torch.randint(0, VOCAB, (B, T), generator=gen)
    lengths = torch.randint(0, T + 1, (B,), generator=gen)
    special = [0, 1, T, T, T]
    for i, L in enumerate(special[: B]):
        lengths[i] = L
    if B > 2:
        tokens[2] = torch.where(torch.isin(tokens[2], torch.tensor(SEPARATORS)), 0, tokens[2])
    if B > 3:
        tokens[3] = SEPARATORS[0]
    if B > 4 and T >= 8:
        tokens[4, 2:6] = SEPARATORS[1]
        tokens[4, 0] = SEPARATORS[0]
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return Batch(tokens.to(device), lengths.to(device), mask.to(device))
