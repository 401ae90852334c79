"""Sharded, atomic checkpoints with torch.distributed.checkpoint (DCP), and HF export.

<run_dir>/checkpoints/iter-000012/   DCP shards of actor / critic models and optimizers (no
                                     critic for the critic-free estimators, ppo.estimator != gae)
                                     + rank<r>.pt: RNG states (torch, python, numpy), LR
                                     schedulers, KL controller, iteration (= data position),
                                     the estimator
A checkpoint is written to `.tmp-iter-…` and renamed when every rank has finished, so a
crash never leaves a half-written `iter-*`; only the newest `keep_last` are kept.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _sharded_state(trainer) -> dict:
    actor, actor_opt = get_state_dict(trainer.actor, trainer.actor_opt)
    state = {"actor": actor, "actor_optim": actor_opt}
    if trainer.critic is not None:
        state["critic"], state["critic_optim"] = get_state_dict(trainer.critic, trainer.critic_opt)
    return state


def list_checkpoints(run_dir: Path) -> list[Path]:
    root = run_dir / "checkpoints"
    return sorted(p for p in root.glob("iter-*") if p.is_dir()) if root.is_dir() else []


def save_checkpoint(trainer, run_dir: Path, keep_last: int) -> Path:
    """Every rank calls this; returns the final checkpoint directory."""
    root = run_dir / "checkpoints"
    name = f"iter-{trainer.iteration:06d}"
    tmp, final = root / f".tmp-{name}", root / name
    if trainer.info.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    dcp.save(_sharded_state(trainer), checkpoint_id=str(tmp))
    extra = {"iteration": trainer.iteration, "data_position": trainer.iteration * trainer.cfg.rollout.prompts,
             "rng": _rng_state(), "kl": trainer.kl.state_dict(),
             "actor_sched": trainer.actor_sched.state_dict(),
             "critic_sched": trainer.critic_sched.state_dict() if trainer.critic_sched is not None else None,
             "estimator": trainer.cfg.ppo.estimator, "world_size": trainer.info.world_size}
    torch.save(extra, tmp / f"rank{trainer.info.rank}.pt")
    _barrier()
    if trainer.info.is_main:
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        for old in list_checkpoints(run_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return final


def load_checkpoint(trainer, path: Path) -> None:
    """Restore models, optimizers, schedulers, KL controller, RNG and iteration; re-sync the engine."""
    extra = torch.load(path / f"rank{trainer.info.rank}.pt", weights_only=False)
    if extra["world_size"] != trainer.info.world_size:
        raise ValueError(f"checkpoint {path} was written by {extra['world_size']} ranks; resume with the same "
                         f"world size (got {trainer.info.world_size})")
    if extra["data_position"] != extra["iteration"] * trainer.cfg.rollout.prompts:
        raise ValueError(f"checkpoint {path} was written with another rollout.prompts; the data position "
                         f"({extra['data_position']} problems) cannot be continued exactly")
    saved = extra.get("estimator", "gae")
    if (saved == "gae") != (trainer.critic is not None):
        want = "gae" if saved == "gae" else "grpo, rloo or reinforce_pp"
        raise ValueError(f"checkpoint {path} was written with ppo.estimator={saved} "
                         f"({'a critic' if saved == 'gae' else 'no critic'}); resume with ppo.estimator={want} "
                         f"(got {trainer.cfg.ppo.estimator})")
    state = _sharded_state(trainer)
    dcp.load(state, checkpoint_id=str(path))
    set_state_dict(trainer.actor, trainer.actor_opt, model_state_dict=state["actor"],
                   optim_state_dict=state["actor_optim"])
    trainer.actor_sched.load_state_dict(extra["actor_sched"])
    if trainer.critic is not None:
        set_state_dict(trainer.critic, trainer.critic_opt, model_state_dict=state["critic"],
                       optim_state_dict=state["critic_optim"])
        trainer.critic_sched.load_state_dict(extra["critic_sched"])
    trainer.kl.load_state_dict(extra["kl"])
    trainer.iteration = int(extra["iteration"])
    trainer.sync_engine()
    _set_rng_state(extra["rng"])


def export_hf(trainer, out_dir: Path) -> Path | None:
    """Write the actor in Hugging Face format (rank 0 writes; every rank must call)."""
    from rltrain.models.sharding import iter_full_parameters

    full = {name: t.cpu() for name, t in iter_full_parameters(trainer.actor, prefix="lm.")}
    if not trainer.info.is_main:
        return None
    lm = trainer.actor.lm
    out_dir.mkdir(parents=True, exist_ok=True)
    lm.config.save_pretrained(out_dir)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in full.items()}, str(out_dir / "model.safetensors"),
              metadata={"format": "pt"})
    trainer.tokenizer.save_pretrained(out_dir)
    return out_dir
