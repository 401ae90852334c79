"""Rollout engines: the interface (`types.py`), the built-in transformers engine, the vLLM engine
(`vllm_engine.py`, vLLM imported only when an engine is built) and the trainer -> engine weight
sync (`weight_sync.py`)."""
from rltrain.rollout.hf_engine import HFRolloutEngine
from rltrain.rollout.types import FINISH_REASONS, RolloutEngine, RolloutOutput, SamplingParams
from rltrain.rollout.vllm_config import VLLMEngineConfig
from rltrain.rollout.vllm_engine import VLLMEngine, vllm_available
from rltrain.rollout.weight_sync import SyncStats, sync_weights

__all__ = ["FINISH_REASONS", "HFRolloutEngine", "RolloutEngine", "RolloutOutput", "SamplingParams",
           "SyncStats", "VLLMEngine", "VLLMEngineConfig", "sync_weights", "vllm_available"]
