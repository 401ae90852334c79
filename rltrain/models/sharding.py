"""FSDP2 (`fully_shard`) for the trainer's modules and full-tensor export for weight sync.

Each decoder layer is its own FSDP unit, the wrapper module the root (embeddings, final
norm, lm_head and the value head live in the root). bf16 mixed precision on GPU only.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn
from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard


def decoder_layers(module: nn.Module) -> list[nn.Module]:
    """The transformer blocks of a transformers model (any `.layers` ModuleList inside)."""
    for sub in module.modules():
        layers = getattr(sub, "layers", None)
        if isinstance(layers, nn.ModuleList) and len(layers) > 0:
            return list(layers)
    return []


def shard_module(module: nn.Module, *, device: torch.device, mixed_precision: bool, cpu_offload: bool,
                 reshard_after_forward: bool = True) -> nn.Module:
    """fully_shard every decoder layer, then the root; returns the module (now FSDP-managed)."""
    kwargs = {}
    if device.type == "cuda" and mixed_precision:
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    if cpu_offload:
        kwargs["offload_policy"] = CPUOffloadPolicy()
    for layer in decoder_layers(module):
        fully_shard(layer, reshard_after_forward=reshard_after_forward, **kwargs)
    fully_shard(module, reshard_after_forward=reshard_after_forward, **kwargs)
    return module


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor of a (possibly) DTensor parameter, detached; for a DTensor this is a
    collective (an all-gather), so every rank must call it in the same order."""
    with torch.no_grad():
        return (t.full_tensor() if hasattr(t, "full_tensor") else t).detach()


def iter_full_parameters(module: nn.Module, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """(name, full tensor) parameter by parameter, names relative to `prefix` (stripped).

    Every rank must consume the whole iterator (each step is a collective on FSDP2).
    """
    for name, param in module.named_parameters():
        if prefix and name.startswith(prefix):
            name = name[len(prefix):]
        yield name, full_tensor(param.detach())
