"""Weight sync trainer -> rollout engine, one bucket of full tensors at a time.

`sync_weights(engine, module)` (call it on every rank after each PPO update; each rank feeds its
own colocated engine):
1. plans from metadata only (no communication): the module's state_dict entries (parameters
   and persistent buffers, FSDP2 DTensors left sharded), names mapped to checkpoint names
   (`trainer_name` strips FSDP / checkpoint-wrapper / torch.compile components), tied tensors
   (lm_head sharing embed_tokens) gathered once and sent under every name;
2. checks every name and shape against the engine (unknown, wrong shape or missing: ValueError,
   before anything is gathered or sent);
3. packs entries into buckets of at most `bucket_bytes` full bytes, never splitting a layer
   (vLLM must get all tensors of a fused layer in one reload call); one layer bigger than
   `bucket_bytes` becomes a bucket of its own;
4. per bucket: `DTensor.full_tensor()` for each sharded entry (an all-gather; every rank runs
   the same plan in the same order), push, drop, then the next bucket: at most one bucket of
   full tensors exists at a time on a rank;
5. resets the engine's prefix cache.
Works for a plain (non-FSDP) module and for any `RolloutEngine`: the base class's hooks check
nothing up front, load each bucket with `update_weights` and have no cache to reset.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from rltrain.models.sharding import full_tensor
from rltrain.rollout.types import RolloutEngine
from rltrain.rollout.weight_names import layer_key, trainer_name

DEFAULT_BUCKET_BYTES = 512 << 20

@dataclass(frozen=True)
class WeightEntry:
    """One tensor to send: names (several for tied weights), the module's tensor (a DTensor when
    sharded), its full shape and full size in bytes, and its layer key (bucketing unit)."""

    names: tuple[str, ...]
    tensor: torch.Tensor
    shape: tuple[int, ...]
    nbytes: int
    layer: str


@dataclass(frozen=True)
class SyncStats:
    """What one sync moved: buckets pushed, full bytes gathered (tied tensors once), the largest
    bucket in bytes, and wall seconds (gather + push + cache reset)."""

    buckets: int
    bytes: int
    max_bucket_bytes: int
    seconds: float


def module_weights(module: torch.nn.Module, name_map: Callable[[str], str] = trainer_name,
                   dtype: torch.dtype | None = None) -> list[WeightEntry]:
    """The module's parameters and persistent buffers as WeightEntry, in state_dict order.

    dtype: the dtype tensors are sent in (None: their own), which sets `nbytes`.
    """
    by_id: dict[int, tuple[list[str], torch.Tensor]] = {}
    for raw_name, tensor in module.state_dict(keep_vars=True).items():
        name = name_map(raw_name)
        names, _ = by_id.setdefault(id(tensor), ([], tensor))
        if name in names:
            continue
        names.append(name)
    entries = []
    for names, tensor in by_id.values():
        itemsize = torch.empty((), dtype=dtype or tensor.dtype).element_size()
        entries.append(WeightEntry(tuple(names), tensor, tuple(tensor.shape), tensor.numel() * itemsize,
                                   layer_key(names[0])))
    return entries


def plan_buckets(entries: list[WeightEntry], bucket_bytes: int) -> list[list[WeightEntry]]:
    """Entries packed in order into buckets of <= bucket_bytes, keeping each layer whole."""
    if bucket_bytes < 1:
        raise ValueError(f"plan_buckets: `bucket_bytes` must be >= 1, got {bucket_bytes}")
    layers: dict[str, list[WeightEntry]] = {}
    for entry in entries:
        layers.setdefault(entry.layer, []).append(entry)
    buckets: list[list[WeightEntry]] = []
    current: list[WeightEntry] = []
    size = 0
    for layer in layers.values():
        layer_bytes = sum(e.nbytes for e in layer)
        if current and size + layer_bytes > bucket_bytes:
            buckets.append(current)
            current, size = [], 0
        current.extend(layer)
        size += layer_bytes
    if current:
        buckets.append(current)
    return buckets


def gather_buckets(buckets: list[list[WeightEntry]], dtype: torch.dtype | None = None
                   ) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """For each planned bucket, [(name, full tensor)] (tied names share one tensor).

    The bucket's tensors are released before the next bucket is gathered: the consumer must not
    keep references past its loop body (`del` them there). Not decorated with `torch.no_grad()`:
    its generator wrapper holds the previous yield while producing the next bucket.
    """
    for bucket in buckets:
        pairs: list[tuple[str, torch.Tensor]] = []
        for entry in bucket:
            full = full_tensor(entry.tensor)
            if dtype is not None:
                with torch.no_grad():
                    full = full.to(dtype)
            pairs.extend((name, full) for name in entry.names)
            del full
        yield pairs
        del pairs


def sync_weights(engine: RolloutEngine, module: torch.nn.Module, *, bucket_bytes: int = DEFAULT_BUCKET_BYTES,
                 name_map: Callable[[str], str] = trainer_name, dtype: torch.dtype | None = None) -> SyncStats:
    """Push `module`'s full weights into `engine` bucket by bucket, then reset its prefix cache.

    engine: checked with `engine.check_weights` before anything is gathered, fed one bucket at a
    time through `engine.load_weight_bucket`, then `engine.reset_prefix_cache()`. Call on every
    rank of the trainer's process group, in the same order (FSDP2 gathers are collectives).
    """
    start = time.perf_counter()
    entries = module_weights(module, name_map, dtype)
    shapes = {name: e.shape for e in entries for name in e.names}
    engine.check_weights(shapes, require_all=True)
    buckets = plan_buckets(entries, bucket_bytes)
    for pairs in gather_buckets(buckets, dtype):
        engine.load_weight_bucket(pairs)
        del pairs
    engine.reset_prefix_cache()
    return SyncStats(buckets=len(buckets), bytes=sum(e.nbytes for e in entries),
                     max_bucket_bytes=max((sum(e.nbytes for e in b) for b in buckets), default=0),
                     seconds=time.perf_counter() - start)
