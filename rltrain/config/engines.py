"""Rollout engines as data: one `EngineSpec` per `rollout.engine` value, read by the config checks
(`rltrain.preflight`), the model builder (a rollout copy of the actor or none), the dtype rule
(`rltrain.rollout.engine_dtype`), the sampler-gap warning and the engine factory
(`rltrain.rollout.factory`), which imports an engine's module only when it is chosen. Imports no torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class EngineSpec:
    """builder: "module:function" building the engine, called as
    function(cfg, rollout_lm, tokenizer, model_dir, device_type) -> RolloutEngine; rollout_copy: it
    generates with an unsharded copy of the actor in the trainer's process (else it loads the policy
    from `model_dir` and takes the trainer's weights through `update_weights`); requires: the
    packages it imports; dtype_key: its config key choosing its compute dtype (`trainer`: follow the
    trainer's; None: it runs the actor's parameters as they are); dtype_fix: how to make its dtype
    the trainer's, for the sampler-gap warning."""

    builder: str
    rollout_copy: bool
    description: str
    requires: tuple[str, ...] = ()
    dtype_key: str | None = None
    dtype_fix: str = ""


ROLLOUT_ENGINES: Mapping[str, EngineSpec] = MappingProxyType({
    "builtin": EngineSpec(
        builder="rltrain.rollout.hf_engine:engine_from_config", rollout_copy=True,
        description="transformers generate on an unsharded copy of the actor",
        dtype_fix="the built-in engine samples with the float32 parameters; rollout.engine=vllm follows the trainer"),
    "vllm": EngineSpec(
        builder="rltrain.rollout.vllm_engine:engine_from_config", rollout_copy=False, requires=("vllm",),
        description="vLLM, loaded from the policy's folder and weight-synced after every update",
        dtype_key="rollout.vllm.dtype", dtype_fix="rollout.vllm.dtype=trainer makes them equal"),
})
ENGINES: tuple[str, ...] = tuple(ROLLOUT_ENGINES)
