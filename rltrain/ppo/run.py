"""A training run's lifecycle around `PPOTrainer`: seeding, a fresh or resumed run dir, SIGTERM,
the iteration loop with its evaluation and checkpoint cadence, the final evaluation, export and
summary.json, and teardown. `rltrain/main.py` parses and checks the config, then calls `run_training`.

A run dir holds `config.yaml`, `metrics.jsonl`, `checkpoints/`, `init_model/` (the built-in
policy), `hf_actor/` (run.export_hf) and, written last, `summary.json` (rltrain.run_files).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.distributed as dist
import yaml

from rltrain.checkpoint import export_hf, list_checkpoints, load_latest_checkpoint, save_checkpoint
from rltrain.config import Config, config_to_dict
from rltrain.data.records import MathProblem
from rltrain.distributed.setup import DistInfo, all_reduce_max, init_distributed, shutdown_distributed
from rltrain.metrics.logger import MetricsLogger
from rltrain.metrics.records import read_metrics
from rltrain.ppo.prompts import load_problems
from rltrain.ppo.signal import NoSignalWarning
from rltrain.ppo.trainer import PPOTrainer, rank_param_spread
from rltrain.run_files import SUMMARY, finished_run, write_text_atomic

FRESH_RUN_ARTIFACTS = ("metrics.jsonl", "metrics.jsonl.tmp", "checkpoints", "init_model", "init_model.tmp",
                       "hf_actor", "hf_actor.tmp", "tensorboard", "summary.json", "summary.json.tmp")
Say = Callable[[str], None]


@dataclass
class StopRequest:
    """SIGTERM before training starts ends the process (nothing to save yet); after, it asks the
    loop to finish the iteration, save a checkpoint and leave with status 0."""

    signalled: int = 0
    training: bool = False

    def __call__(self, *_) -> None:
        self.signalled = 1
        if not self.training:
            raise SystemExit(128 + signal.SIGTERM)


def _local_main() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0"


def _seed(cfg: Config, info: DistInfo) -> None:
    if info.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # Tiny CPU models gain nothing from intra-op threads, and on a shared machine OpenMP
        # threads contending for busy cores make a run several times slower. Set
        # OMP_NUM_THREADS explicitly to choose otherwise.
        torch.set_num_threads(1)
    torch.manual_seed(cfg.run.seed + info.rank)
    random.seed(cfg.run.seed + info.rank)
    np.random.seed(cfg.run.seed + info.rank)


def _prepare_run_dir(cfg: Config, info: DistInfo, run_dir: Path, resuming: bool, keep: Sequence[str]) -> None:
    """A fresh run removes what an earlier run left (but `keep`); both write config.yaml."""
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resuming:
            for name in FRESH_RUN_ARTIFACTS:
                if name in keep:
                    continue
                target = run_dir / name
                shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    dist.barrier()


def run_training(cfg: Config, problems: tuple[list[MathProblem], list[MathProblem]] | None = None, *,
                 keep: Sequence[str] = ()) -> int:
    """Train cfg's run to run.iterations (or run.stop_after / SIGTERM: a checkpoint, status 0).

    cfg: a checked config (`rltrain.preflight.check_environment`); problems: (train pool, eval
    problems), else `load_problems(cfg)` (a bad data file fails there, before any model loads);
    keep: names of FRESH_RUN_ARTIFACTS a fresh run leaves in place (an experiment's shared
    `init_model`). Returns the exit status (0). A multi-rank run leaves with os._exit(0).
    """
    run_dir = Path(cfg.run.out_dir)
    if cfg.run.resume:
        done = finished_run(run_dir, cfg.run.iterations, cfg.run.export_hf)
        if done is not None:  # a finished run: say so and write nothing
            if _local_main():
                print(f"[rltrain] run.resume: {run_dir} already finished at iteration {done} (run.iterations="
                      f"{cfg.run.iterations}): its final evaluation, checkpoint, export and summary.json are written; "
                      "nothing to do (raise run.iterations to train on)", flush=True)
            return 0
    problems = problems if problems is not None else load_problems(cfg)

    info = init_distributed()
    _seed(cfg, info)
    resuming = cfg.run.resume and bool(list_checkpoints(run_dir))
    _prepare_run_dir(cfg, info, run_dir, resuming, keep)
    stop = StopRequest()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return _run(cfg, info, run_dir, problems, resuming, stop)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(cfg: Config, info: DistInfo, run_dir: Path, problems: tuple[list[MathProblem], list[MathProblem]],
         resuming: bool, stop: StopRequest) -> int:
    start = time.perf_counter()
    trainer = PPOTrainer(cfg, info, run_dir, problems=problems)
    stop.training = True
    logger = MetricsLogger(run_dir, info.is_main, cfg.run.tensorboard)
    say: Say | None = (lambda line: print(f"[rltrain] {line}", flush=True)) if info.is_main else None
    resumed_at, initial = None, None
    if resuming:
        load_latest_checkpoint(trainer, run_dir, say)  # the newest intact one; damaged ones are named
        resumed_at = trainer.iteration
        logger.truncate_after(trainer.iteration)
    else:
        initial = _initial_evaluation(trainer, logger, say, start)

    interrupted = _train_loop(cfg, trainer, logger, stop, say)
    if not interrupted:
        final = _finish(cfg, trainer, logger, run_dir, resumed_at, say)
        if info.is_main:
            _write_summary(run_dir, trainer.iteration, initial, final, time.perf_counter() - start,
                           trainer.signal_warning)
    if dist.is_initialized():
        dist.barrier()  # every rank done with its collectives before any tears the group down
    trainer.close()
    logger.close()
    if info.world_size > 1:
        # Everything is written. Interpreter teardown after a multi-rank run with FSDP2-sharded reward
        # models intermittently aborted in a C++ destructor ("terminate called without an active
        # exception", exit -6) after the run had finished; leave without it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    shutdown_distributed()
    return 0


def _initial_evaluation(trainer: PPOTrainer, logger: MetricsLogger, say: Say | None, start: float) -> dict:
    if trainer.warmup_losses:
        logger.log(0, {"warmup_loss_first": trainer.warmup_losses[0], "warmup_loss_last": trainer.warmup_losses[-1],
                       "warmup_steps": len(trainer.warmup_losses)}, kind="warmup")
    initial = trainer.evaluate()
    logger.log(0, initial, kind="eval")
    if say is not None:
        say(f"initial: greedy success {initial['greedy_success']:.3f}, sampling success "
            f"{initial['sampling_success']:.3f} ({time.perf_counter() - start:.1f}s incl. model build / warm-up)")
    return initial


def _train_loop(cfg: Config, trainer: PPOTrainer, logger: MetricsLogger, stop: StopRequest, say: Say | None) -> bool:
    """Iterations up to run.iterations with their eval / checkpoint cadence; True when stopped early."""
    r = cfg.run
    bar = None
    if say is not None and r.progress:
        from tqdm import tqdm

        bar = tqdm(total=r.iterations, initial=trainer.iteration, desc="ppo", dynamic_ncols=True)
    done_here, interrupted = 0, False
    while trainer.iteration < r.iterations:
        metrics = trainer.step()
        metrics["param_rank_spread"] = rank_param_spread(trainer)
        logger.log(trainer.iteration, metrics)
        done_here += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(success=f"{metrics['success_rate']:.2f}", len=f"{metrics['response_length']:.0f}")
        if r.eval_every and trainer.iteration % r.eval_every == 0 and trainer.iteration < r.iterations:
            logger.log(trainer.iteration, trainer.evaluate(), kind="eval")
        signalled = all_reduce_max(stop.signalled, trainer.info.device) > 0
        limit = r.stop_after and done_here >= r.stop_after
        if signalled or limit or (r.save_every and trainer.iteration % r.save_every == 0):
            save_checkpoint(trainer, Path(r.out_dir), r.keep_last)
        if (signalled or limit) and trainer.iteration < r.iterations:
            interrupted = True
            if say is not None:
                why = "SIGTERM" if signalled else f"run.stop_after={r.stop_after}"
                print(f"\n[rltrain] {why}: checkpoint saved at iteration {trainer.iteration}; resume with "
                      "run.resume=true", flush=True)  # on a line of its own after the progress bar
            break
    if bar is not None:
        bar.close()
    return interrupted


def _finish(cfg: Config, trainer: PPOTrainer, logger: MetricsLogger, run_dir: Path, resumed_at: int | None,
            say: Say | None) -> dict:
    """The final evaluation, checkpoint and export; returns the final evaluation's metrics.

    Resumed from the final checkpoint (the export or summary was interrupted): its evaluation is in
    metrics.jsonl and its checkpoint is the one loaded; only what is missing is written."""
    r = cfg.run
    final = _logged_eval(run_dir, trainer.iteration) if resumed_at == trainer.iteration else None
    if final is None:
        final = trainer.evaluate()
        logger.log(trainer.iteration, final, kind="eval")
    elif say is not None:
        say(f"run.resume: iteration {trainer.iteration} and its final evaluation are done; writing what the "
            "interrupted run left: " + ("the Hugging Face export and " if r.export_hf else "") + "summary.json")
    saved = resumed_at == trainer.iteration or (r.save_every and trainer.iteration % r.save_every == 0)
    if not saved:
        save_checkpoint(trainer, run_dir, r.keep_last)
    if r.export_hf:
        export_hf(trainer, run_dir / "hf_actor")
    return final


def _logged_eval(run_dir: Path, iteration: int) -> dict | None:
    """The held-out evaluation metrics.jsonl holds for `iteration`, None when there is none."""
    if not (run_dir / "metrics.jsonl").is_file():
        return None
    rows = [r for r in read_metrics(run_dir, "eval") if r.iteration == iteration]
    return dict(rows[-1].values) if rows else None


def _write_summary(run_dir: Path, iteration: int, initial: dict | None, final: dict, seconds: float,
                   no_signal: NoSignalWarning) -> None:
    rates = [r["success_rate"] for r in read_metrics(run_dir, "train")]
    if initial is None:  # a resumed run: the first run's initial evaluation is in metrics.jsonl
        initial = next((dict(r) for r in read_metrics(run_dir, "eval") if r.iteration == 0), None)
    k = max(1, len(rates) // 5)
    first = sum(rates[:k]) / k if rates else float("nan")
    last = sum(rates[-k:]) / k if rates else float("nan")
    summary = {"iteration": iteration, "seconds": seconds, "initial": initial, "final": final,
               "train_success_first": first, "train_success_last": last,
               "iterations_without_signal": no_signal.count}
    write_text_atomic(run_dir / SUMMARY, json.dumps(summary, indent=2) + "\n")  # last: the run is complete
    init = initial or {"greedy_success": float("nan"), "sampling_success": float("nan")}
    print(f"[rltrain] done in {seconds:.0f}s -> {run_dir}\n"
          f"  held-out greedy success   {init['greedy_success']:.3f} -> {final['greedy_success']:.3f}\n"
          f"  held-out sampling success {init['sampling_success']:.3f} -> {final['sampling_success']:.3f}\n"
          f"  train-batch success (first / last {k} iterations) {first:.3f} -> {last:.3f}", flush=True)
    if no_signal.count:
        print(f"[rltrain] warning: {no_signal.count} of the {no_signal.seen} iterations this process ran carried no "
              "learning signal (every response got the same reward; see the warning above)", flush=True)
