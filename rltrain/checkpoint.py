"""Sharded, verified, atomic checkpoints with torch.distributed.checkpoint (DCP), and HF export.

<run_dir>/checkpoints/iter-000012/   DCP shards (`__<rank>_<n>.distcp`, `.metadata`) of actor / critic
                                     models and AdamW states (no critic for the critic-free
                                     estimators, ppo.estimator.type != gae)
                                     + rank<r>.pt: RNG states (torch, python, numpy), LR schedulers,
                                     KL controller, iteration (= data position), the estimator
                                     + manifest.json: every file's size and sha256, written last

Saving: every rank writes into `.tmp-iter-…` (fsync'd); the ranks hash the files (split among
them); rank 0 writes manifest.json (a temporary file, fsync'd, renamed) and renames the folder to
`iter-…`. A crash at any moment leaves the checkpoint either complete or as a `.tmp-*` folder,
which a resume ignores and the next save replaces. A write that fails (a full disk) fails on every
rank together with one `CheckpointError` naming the folder and the cause; the partial folder is
removed and the older checkpoints stay. Only the newest `keep_last` are kept.

Loading (`load_latest_checkpoint`): the ranks check the newest checkpoint's files against its
manifest (every size; the hashes split among the ranks), then load it. A damaged one (a truncated
shard, an unreadable rank state, altered bytes) is named with the file at fault, moved aside to
`.damaged-iter-…` and the one before it is tried; one line says so. A checkpoint written before
manifests existed is loaded unverified (a failure still names it and falls back).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

from rltrain.errors import UserError, first_line, root_cause, write_failure
from rltrain.run_files import CHECKPOINTS, fsync_dir, list_checkpoints, write_text_atomic

__all__ = ["CheckpointError", "export_hf", "list_checkpoints", "load_checkpoint", "load_latest_checkpoint",
           "save_checkpoint", "verify_checkpoint"]

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
DAMAGED_PREFIX = ".damaged-"
_CHUNK = 1 << 22
# what a failed write raises: OSError (a full disk, EFBIG, EROFS), RuntimeError (torch's zip writer:
# "[enforce fail at inline_container.cc] unexpected pos"), DCP's CheckpointException (a BaseException)
_WRITE_ERRORS = (OSError, RuntimeError, CheckpointException)


class CheckpointError(UserError):
    """A checkpoint could not be written, or no intact one could be read; the message names the path."""


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _gather(obj) -> list:
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def _agreed(problem: str | None) -> str | None:
    """The lowest rank's problem, the same on every rank (a collective): every rank then takes the same branch."""
    return next((p for p in _gather(problem) if p), None)


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_failed(step: Callable[[], object], where: Path) -> str | None:
    """Run one write step; a failure as one line naming `where` and the cause, else None."""
    try:
        step()
    except _WRITE_ERRORS as exc:
        return f"cannot write {where}: {write_failure(exc, where)}"
    return None


def _save_rank_state(path: Path, state: dict) -> None:
    with open(path, "wb") as f:  # a Python file, so that a full disk surfaces as OSError(ENOSPC)
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())


def _hash_share(folder: Path, rank: int, world: int) -> dict[str, dict]:
    """{name: {bytes, sha256}} of this rank's share of the folder's files (all ranks list the same files)."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    return {n: {"bytes": (folder / n).stat().st_size, "sha256": _sha256(folder / n)}
            for i, n in enumerate(names) if i % world == rank}


def _commit(tmp: Path, final: Path, files: dict[str, dict], iteration: int, world: int) -> None:
    """Rank 0: write the manifest (last), then put the folder in place of `final`."""
    manifest = {"format": MANIFEST_FORMAT, "iteration": iteration, "world_size": world, "files": files}
    write_text_atomic(tmp / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    old = final.with_name(f".old-{final.name}")
    if final.exists():  # the same iteration saved again: swap, never leave no checkpoint behind
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    tmp.rename(final)
    fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(trainer, run_dir: Path, keep_last: int) -> Path:
    """Every rank calls this; returns the final checkpoint directory. Raises CheckpointError (on every
    rank) when a write fails, after removing the partial folder."""
    root = run_dir / CHECKPOINTS
    name = f"iter-{trainer.iteration:06d}"
    tmp, final = root / f".tmp-{name}", root / name
    rank, world, main = trainer.info.rank, trainer.info.world_size, trainer.info.is_main

    def fail(problem: str | None) -> None:
        if problem is None:
            return
        if main:
            shutil.rmtree(tmp, ignore_errors=True)
        _barrier()
        newest = list_checkpoints(run_dir)
        kept = f"the newest complete checkpoint is {newest[-1]}" if newest else "no complete checkpoint exists yet"
        raise CheckpointError(f"checkpoint of iteration {trainer.iteration} not saved: {problem}; {kept}")

    def fresh_tmp() -> None:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)

    fail(_agreed(_write_failed(fresh_tmp, tmp) if main else None))
    fail(_agreed(_write_failed(lambda: dcp.save(_sharded_state(trainer), checkpoint_id=str(tmp)), tmp)))
    extra = {"iteration": trainer.iteration, "data_position": trainer.iteration * trainer.cfg.rollout.prompts,
             "rng": _rng_state(), "kl": trainer.kl.state_dict(),
             "actor_sched": trainer.actor_sched.state_dict(),
             "critic_sched": trainer.critic_sched.state_dict() if trainer.critic_sched is not None else None,
             "estimator": trainer.cfg.ppo.estimator.type, "world_size": world}
    rank_file = tmp / f"rank{rank}.pt"
    fail(_agreed(_write_failed(lambda: _save_rank_state(rank_file, extra), rank_file)))
    _barrier()  # every file is written before any rank lists the folder
    share: dict[str, dict] = {}
    fail(_agreed(_write_failed(lambda: share.update(_hash_share(tmp, rank, world)), tmp)))
    files = {k: v for part in _gather(share) for k, v in part.items()}
    problem = None
    if main:
        problem = _write_failed(lambda: _commit(tmp, final, files, trainer.iteration, world), tmp / MANIFEST)
        if problem is None:
            for old in list_checkpoints(run_dir)[:-keep_last]:
                shutil.rmtree(old, ignore_errors=True)
    fail(_agreed(problem))
    return final


def verify_checkpoint(path: Path, rank: int = 0, world: int = 1) -> str | None:
    """What is wrong with `path`'s files by its manifest ("<file>: <what>"), or None. Every size is
    checked; the hashes of files[rank::world] only (each rank of a run checks its share)."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return None  # written before manifests: loading it will tell
    try:
        files = json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
        for i, name in enumerate(sorted(files)):
            want, file = files[name], path / name
            if not file.is_file():
                return f"{name}: missing"
            size = file.stat().st_size
            if size != want["bytes"]:
                return f"{name}: {size} bytes, its manifest says {want['bytes']} (truncated or overwritten)"
            if i % world == rank and _sha256(file) != want["sha256"]:
                return f"{name}: its bytes differ from the sha256 in its manifest (corrupted)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{MANIFEST}: unreadable ({first_line(exc)})"
    return None


def _restore(trainer, path: Path) -> str | None:
    """Load `path` into the trainer (every rank); the agreed problem when it cannot be read, else None.
    A checkpoint of another world size or rollout.prompts raises CheckpointError (no fallback)."""
    file = f"rank{trainer.info.rank}.pt"
    extra, problem = None, None
    try:
        extra = torch.load(path / file, weights_only=False)
        iteration, world, position = extra["iteration"], extra["world_size"], extra["data_position"]
    except Exception as exc:  # noqa: BLE001 - any failure to read it makes this checkpoint unusable
        problem = f"{file}: unreadable ({type(exc).__name__}: {first_line(exc)})"
    problem = _agreed(problem)
    if problem:
        return problem
    if world != trainer.info.world_size:
        raise CheckpointError(f"checkpoint {path} was written by {world} ranks; resume with the same world size "
                              f"(got {trainer.info.world_size})")
    if position != iteration * trainer.cfg.rollout.prompts:
        raise CheckpointError(f"checkpoint {path} was written with another rollout.prompts; the data position "
                              f"({position} problems) cannot be continued exactly")
    saved = extra.get("estimator", "gae")
    if (saved == "gae") != (trainer.critic is not None):
        want = "gae" if saved == "gae" else "grpo, rloo or reinforce_pp"
        raise CheckpointError(f"checkpoint {path} was written with ppo.estimator={saved} "
                              f"({'a critic' if saved == 'gae' else 'no critic'}); resume with ppo.estimator={want} "
                              f"(got {trainer.cfg.ppo.estimator.type})")
    state = _sharded_state(trainer)
    try:
        dcp.load(state, checkpoint_id=str(path))  # a failure on any rank raises on every rank
    except CheckpointException as exc:
        cause = root_cause(exc)
        return f"model / optimizer shards unreadable ({type(cause).__name__}: {first_line(cause)})"
    set_state_dict(trainer.actor, trainer.actor_opt, model_state_dict=state["actor"],
                   optim_state_dict=state["actor_optim"])
    trainer.actor_sched.load_state_dict(extra["actor_sched"])
    if trainer.critic is not None:
        set_state_dict(trainer.critic, trainer.critic_opt, model_state_dict=state["critic"],
                       optim_state_dict=state["critic_optim"])
        trainer.critic_sched.load_state_dict(extra["critic_sched"])
    trainer.kl.load_state_dict(extra["kl"])
    trainer.iteration = int(iteration)
    trainer.sync_engine()
    _set_rng_state(extra["rng"])
    return None


def load_checkpoint(trainer, path: Path) -> None:
    """Restore models, optimizers, schedulers, KL controller, RNG and iteration from `path` (verified
    first); re-sync the engine. CheckpointError naming the file when it is damaged."""
    rank, world = trainer.info.rank, trainer.info.world_size
    problem = _agreed(verify_checkpoint(path, rank, world)) or _restore(trainer, path)
    if problem:
        raise CheckpointError(f"checkpoint {path} is damaged: {problem}")


def load_latest_checkpoint(trainer, run_dir: Path, say: Callable[[str], None] | None = None) -> Path:
    """Every rank calls this: restore the newest intact checkpoint and return it. Damaged newer ones
    are moved aside to `.damaged-iter-…` and `say` gets one line naming them and their faulty file.
    CheckpointError when none is intact (nothing is moved then)."""
    rank, world = trainer.info.rank, trainer.info.world_size
    damaged: list[tuple[Path, str]] = []
    for path in reversed(list_checkpoints(run_dir)):
        problem = _agreed(verify_checkpoint(path, rank, world)) or _restore(trainer, path)
        if problem is None:
            if damaged:
                _set_aside([p for p, _ in damaged], trainer.info.is_main)
                if say is not None:
                    what = "; ".join(f"{p} is damaged ({why})" for p, why in damaged)
                    say(f"{what}: moved aside to {DAMAGED_PREFIX}{damaged[0][0].name}; resuming from "
                        f"{path.name} (iteration {trainer.iteration})")
            return path
        damaged.append((path, problem))
    detail = "; ".join(f"{p.name}: {why}" for p, why in damaged) or "none found"
    raise CheckpointError(f"run.resume=true: no intact checkpoint in {run_dir / CHECKPOINTS} ({detail}); "
                          "set run.resume=false to start again")


def _set_aside(paths: list[Path], main: bool) -> None:
    if main:
        for path in paths:
            target = path.with_name(DAMAGED_PREFIX + path.name)
            shutil.rmtree(target, ignore_errors=True)
            path.rename(target)
    _barrier()


def export_hf(trainer, out_dir: Path) -> Path | None:
    """Write the actor in Hugging Face format (rank 0 writes; every rank must call), through
    `<out_dir>.tmp` and a rename: `out_dir` exists only complete. CheckpointError when a write fails."""
    from rltrain.models.sharding import iter_full_parameters

    full = {name: t.cpu() for name, t in iter_full_parameters(trainer.actor, prefix="lm.")}
    if not trainer.info.is_main:
        return None
    tmp = out_dir.with_name(out_dir.name + ".tmp")

    def write() -> None:
        from safetensors.torch import save_file

        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        trainer.actor.lm.config.save_pretrained(tmp)
        save_file({k: v.contiguous() for k, v in full.items()}, str(tmp / "model.safetensors"),
                  metadata={"format": "pt"})
        trainer.tokenizer.save_pretrained(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)

    problem = _write_failed(write, tmp)
    if problem:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"Hugging Face export not written: {problem}; the final checkpoint is complete: "
                              "run.resume=true exports again")
    return out_dir
