"""Rollout engines: the interface (`types.py`), the built-in transformers engine, the vLLM engine
(`vllm_engine.py`, vLLM imported only when an engine is built) and the trainer -> engine weight
sync (`weight_sync.py`).

Names are imported on first use: `import rltrain.rollout` loads no torch and no vLLM.
"""
from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "HFRolloutEngine": "hf_engine",
    "FINISH_REASONS": "types", "RolloutEngine": "types", "RolloutOutput": "types", "SamplingParams": "types",
    "VLLMEngine": "vllm_engine", "vllm_available": "vllm_engine",
    "VLLMEngineConfig": "rltrain.config.vllm",
    "SyncStats": "weight_sync", "sync_weights": "weight_sync",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    home = _HOMES[name]
    return getattr(importlib.import_module(home if "." in home else f"{__name__}.{home}"), name)
