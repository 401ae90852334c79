"""The trainer's entry point: `torchrun [--nproc_per_node=N] rltrain/main.py [--config X.yaml] [key=value ...]`.

Without --config it trains the built-in arithmetic task (configs/builtin.yaml). Also runs as
plain `python rltrain/main.py` (one process) and as `python -m rltrain.main`.
"""
from __future__ import annotations

import os
import sys

# Run as a script, sys.path[0] is rltrain/ itself: its modules (e.g. rltrain/config, a
# would-be `types` or `dist`) must not shadow top-level names. Import from the repo root, and
# the fused ops from kernels/ (where `rltrain_kernels` lives; needed when not pip-installed).
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)
    sys.path.insert(1, os.path.join(sys.path[0], "kernels"))

import argparse  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from rltrain.config import Config

REPO_ROOT = Path(_HERE).parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "builtin.yaml"
FRESH_RUN_ARTIFACTS = ("metrics.jsonl", "metrics.jsonl.tmp", "checkpoints", "init_model", "init_model.tmp",
                       "hf_actor", "hf_actor.tmp", "tensorboard", "summary.json", "summary.json.tmp")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from rltrain.config.reference import text_reference
    from rltrain.errors import ArgumentParser

    parser = ArgumentParser(
        description="PPO with success + PRM/ORM rewards (Clip / Delta)",
        epilog="config keys (key = default  [type (constraint)]; defaults before --config, which is "
               f"{DEFAULT_CONFIG.name} unless given; also docs/trainer.md):\n" + text_reference(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=None, help=f"YAML config (default: {DEFAULT_CONFIG})")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. reward.shaping=clip_delta")
    return parser.parse_intermixed_args(argv)


def checked_config(args: argparse.Namespace, world_size: int | None = None) -> "Config":
    """The config the parsed arguments name, validated and checked against this machine (no torch import);
    every config error is a ConfigError raised here, before any model loads."""
    from rltrain.config import check_environment, load_config

    path = args.config if args.config is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    cfg = load_config(path, args.overrides)
    check_environment(cfg, world_size)
    return cfg


def _local_main() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0"


def main(argv: list[str] | None = None) -> int:
    cfg = checked_config(parse_args(argv))
    run_dir = Path(cfg.run.out_dir)
    if cfg.run.resume:
        from rltrain.run_files import finished_run

        done = finished_run(run_dir, cfg.run.iterations, cfg.run.export_hf)
        if done is not None:  # a finished run: say so and write nothing
            if _local_main():
                print(f"[rltrain] run.resume: {run_dir} already finished at iteration {done} (run.iterations="
                      f"{cfg.run.iterations}): its final evaluation, checkpoint, export and summary.json are written; "
                      "nothing to do (raise run.iterations to train on)", flush=True)
            return 0
    from rltrain.ppo.prompts import load_problems

    problems = load_problems(cfg)  # a bad data file fails here, in one line, before any model loads

    import random

    import numpy as np
    import torch
    import torch.distributed as dist
    import yaml

    from rltrain.checkpoint import export_hf, list_checkpoints, load_latest_checkpoint, save_checkpoint
    from rltrain.config import config_to_dict
    from rltrain.distributed.setup import all_reduce_max, init_distributed, shutdown_distributed
    from rltrain.metrics.logger import MetricsLogger
    from rltrain.ppo.trainer import PPOTrainer, rank_param_spread

    info = init_distributed()
    if info.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # Tiny CPU models gain nothing from intra-op threads, and on a shared machine OpenMP
        # threads contending for busy cores make a run several times slower. Set
        # OMP_NUM_THREADS explicitly to choose otherwise.
        torch.set_num_threads(1)
    torch.manual_seed(cfg.run.seed + info.rank)
    random.seed(cfg.run.seed + info.rank)
    np.random.seed(cfg.run.seed + info.rank)
    resuming = cfg.run.resume and bool(list_checkpoints(run_dir))
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resuming:
            for name in FRESH_RUN_ARTIFACTS:
                target = run_dir / name
                shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    dist.barrier()

    stop = {"signal": 0, "training": False}

    def on_sigterm(*_):
        stop["signal"] = 1
        if not stop["training"]:  # still building models / warming up: nothing to save yet
            raise SystemExit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    start = time.perf_counter()
    trainer = PPOTrainer(cfg, info, run_dir, problems=problems)
    stop["training"] = True  # from here on SIGTERM means: finish the iteration, save, exit 0
    logger = MetricsLogger(run_dir, info.is_main, cfg.run.tensorboard)
    say = (lambda line: print(f"[rltrain] {line}", flush=True)) if info.is_main else None
    resumed_at = None
    if resuming:
        load_latest_checkpoint(trainer, run_dir, say)  # the newest intact one; damaged ones are named
        resumed_at = trainer.iteration
        logger.truncate_after(trainer.iteration)
        initial = None
    else:
        if trainer.warmup_losses:
            logger.log(0, {"warmup_loss_first": trainer.warmup_losses[0], "warmup_loss_last": trainer.warmup_losses[-1],
                           "warmup_steps": len(trainer.warmup_losses)}, kind="warmup")
        initial = trainer.evaluate()
        logger.log(0, initial, kind="eval")
        if info.is_main:
            print(f"[rltrain] initial: greedy success {initial['greedy_success']:.3f}, "
                  f"sampling success {initial['sampling_success']:.3f} "
                  f"({time.perf_counter() - start:.1f}s incl. model build / warm-up)", flush=True)

    bar = None
    if info.is_main and cfg.run.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.run.iterations, initial=trainer.iteration, desc="ppo", dynamic_ncols=True)
    done_here, interrupted = 0, False
    while trainer.iteration < cfg.run.iterations:
        metrics = trainer.step()
        metrics["param_rank_spread"] = rank_param_spread(trainer)
        logger.log(trainer.iteration, metrics)
        done_here += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(success=f"{metrics['success_rate']:.2f}", len=f"{metrics['response_length']:.0f}")
        if cfg.run.eval_every and trainer.iteration % cfg.run.eval_every == 0 and trainer.iteration < cfg.run.iterations:
            logger.log(trainer.iteration, trainer.evaluate(), kind="eval")
        signalled = all_reduce_max(stop["signal"], info.device) > 0
        limit = cfg.run.stop_after and done_here >= cfg.run.stop_after
        if signalled or limit or (cfg.run.save_every and trainer.iteration % cfg.run.save_every == 0):
            save_checkpoint(trainer, run_dir, cfg.run.keep_last)
        if (signalled or limit) and trainer.iteration < cfg.run.iterations:
            interrupted = True
            if info.is_main:
                why = "SIGTERM" if signalled else f"run.stop_after={cfg.run.stop_after}"
                print(f"\n[rltrain] {why}: checkpoint saved at iteration {trainer.iteration}; "
                      f"resume with run.resume=true", flush=True)
            break
    if bar is not None:
        bar.close()

    if not interrupted:
        # Resumed from the final checkpoint (the export or summary was interrupted): its evaluation is
        # in metrics.jsonl and its checkpoint is the one loaded; only what is missing is written.
        final = _logged_eval(run_dir, trainer.iteration) if resumed_at == trainer.iteration else None
        if final is None:
            final = trainer.evaluate()
            logger.log(trainer.iteration, final, kind="eval")
        elif say is not None:
            say(f"run.resume: iteration {trainer.iteration} and its final evaluation are done; writing what the "
                "interrupted run left: " + ("the Hugging Face export and " if cfg.run.export_hf else "") +
                "summary.json")
        saved = resumed_at == trainer.iteration or (cfg.run.save_every and trainer.iteration % cfg.run.save_every == 0)
        if not saved:
            save_checkpoint(trainer, run_dir, cfg.run.keep_last)
        if cfg.run.export_hf:
            export_hf(trainer, run_dir / "hf_actor")
        if info.is_main:
            _print_summary(run_dir, trainer.iteration, initial, final, time.perf_counter() - start,
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


def _logged_eval(run_dir: Path, iteration: int) -> dict | None:
    """The held-out evaluation metrics.jsonl holds for `iteration`, None when there is none."""
    from rltrain.metrics.records import read_metrics

    if not (run_dir / "metrics.jsonl").is_file():
        return None
    rows = [r for r in read_metrics(run_dir, "eval") if r.iteration == iteration]
    return dict(rows[-1].values) if rows else None


def _print_summary(run_dir: Path, iteration: int, initial: dict | None, final: dict, seconds: float,
                   no_signal) -> None:
    import json

    from rltrain.metrics.records import read_metrics
    from rltrain.run_files import SUMMARY, write_text_atomic

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


def _report(message: str) -> int:
    """One line (local rank 0), the torchelastic error file, exit status 2 (rltrain.config.report)."""
    from rltrain.config.report import report_config_error

    if "torch" in sys.modules:
        from rltrain.distributed.setup import shutdown_distributed

        shutdown_distributed()
    return report_config_error(message)


if __name__ == "__main__":
    from rltrain.config import ConfigError
    from rltrain.errors import WRITE_ERRNOS, UserError

    try:
        sys.exit(main())
    except (ConfigError, UserError) as exc:  # a bad config, data file or path, a full disk: one line, status 2
        sys.exit(_report(str(exc)))
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        sys.exit(_report(f"cannot write {exc.filename or 'a file'}: {os.strerror(exc.errno).lower()}"))
