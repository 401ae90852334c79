"""Torch reference of `segment_steps`: the readable definition and the CPU fallback."""
from __future__ import annotations

import torch

from kernels.step_delimiter import StepDelimiter
from kernels.torch_steps import step_boundaries


def segment_steps_torch(token_ids: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor,
                        delimiter: StepDelimiter) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`valid` [B, T] uint8 and `lengths` [B] from `valid_and_lengths`. Returns step_index
    [B, T] int32 (-1 at padding), is_boundary [B, T] bool, num_steps [B] int32."""
    boundary = step_boundaries(token_ids, valid, lengths, delimiter)
    inclusive = torch.cumsum(boundary, dim=1, dtype=torch.int32)
    step_index = (inclusive - boundary).masked_fill_(valid == 0, -1)
    if valid.shape[1]:
        num_steps = inclusive[:, -1].clone()
    else:
        num_steps = torch.zeros(valid.shape[0], dtype=torch.int32, device=valid.device)
    return step_index, boundary.view(torch.bool), num_steps
