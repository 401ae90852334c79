"""The one interface every learned reward model is driven through: a per-token logit model.

    z = model(input_ids, attention_mask)     # [B, T] float32, one number per token
    z = model(packed.input_ids, None, **packed.forward_kwargs())   # [1, N]: rows packed, no padding

A model with `packs_sequences = True` (the default) also takes several rows packed into one
sequence ([1, N], no attention mask; the keywords of `rltrain.models.packing.PackedRows`, passed on
to its transformers backbone) and gives each token the number it would get in its own row;
`batched.read_logits` then scores without padding. A model whose numbers depend on more than the token's causal context
(the implicit PRM's running sum) sets it False and is scored padded.

A scorer (`scorers.py`) renders text into rows, reads `z` at each row's read positions
(`batched.read_logits`) and turns the numbers read into scores with a `ReadOut`
(`readouts.py`): sigmoid for a value head, for the "+"/"-" logit difference of a step-tag LM
and for the positive-minus-negative logit of a 2-label classifier; the number itself for a
1-label classifier read raw; differences of a running sum for an implicit PRM.

`shard_units()` names the modules FSDP2 wraps as roots when reward scoring is sharded
(`sharded.py`), children before the modules holding them: the model itself; a float32 head
before the bf16 body holding it (FSDP2 gathers one dtype per unit); each LM of a model holding
two (the implicit PRM). A unit's `forward` must be what the model calls, so that FSDP2's
pre-forward hook gathers the unit's root parameters (embeddings, norm, heads) before they are used.
"""
from __future__ import annotations

from torch import nn


class TokenScoreModel(nn.Module):
    """Base of the reward models' token-logit modules: forward(input_ids [B, T], attention_mask [B, T],
    **packing) -> [B, T] float32 (packing: `PackedRows.forward_kwargs()`, with attention_mask None)."""

    packs_sequences: bool = True

    def shard_units(self) -> list[nn.Module]:
        """The modules to `fully_shard` as roots (default: the whole model)."""
        return [self]
