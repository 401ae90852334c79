"""The trainer's entry point: `torchrun [--nproc_per_node=N] rltrain/main.py [--config X.yaml] [key=value ...]`.

Without --config it trains the built-in arithmetic task (configs/builtin.yaml). Also runs as
plain `python rltrain/main.py` (one process) and as `python -m rltrain.main`.
"""
from __future__ import annotations

import os
import sys

# Run as a script, sys.path[0] is rltrain/ itself: its modules (e.g. rltrain/config, a
# would-be `types` or `dist`) must not shadow top-level names. Import from the repo root.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

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
FRESH_RUN_ARTIFACTS = ("metrics.jsonl", "checkpoints", "init_model", "init_model.tmp", "hf_actor", "tensorboard",
                       "summary.json")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from rltrain.config.reference import text_reference

    parser = argparse.ArgumentParser(
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


def main(argv: list[str] | None = None) -> int:
    cfg = checked_config(parse_args(argv))

    import random

    import numpy as np
    import torch
    import torch.distributed as dist
    import yaml

    from rltrain.checkpoint import export_hf, list_checkpoints, load_checkpoint, save_checkpoint
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
    run_dir = Path(cfg.run.out_dir)
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
    trainer = PPOTrainer(cfg, info, run_dir)
    stop["training"] = True  # from here on SIGTERM means: finish the iteration, save, exit 0
    logger = MetricsLogger(run_dir, info.is_main, cfg.run.tensorboard)
    if resuming:
        load_checkpoint(trainer, list_checkpoints(run_dir)[-1])
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
        final = trainer.evaluate()
        logger.log(trainer.iteration, final, kind="eval")
        if not (cfg.run.save_every and trainer.iteration % cfg.run.save_every == 0):
            save_checkpoint(trainer, run_dir, cfg.run.keep_last)
        if cfg.run.export_hf:
            export_hf(trainer, run_dir / "hf_actor")
        if info.is_main:
            _print_summary(run_dir, initial, final, time.perf_counter() - start)
    trainer.close()
    logger.close()
    shutdown_distributed()
    return 0


def _print_summary(run_dir: Path, initial: dict | None, final: dict, seconds: float) -> None:
    import json

    from rltrain.metrics.records import read_metrics

    rates = [r["success_rate"] for r in read_metrics(run_dir, "train")]
    if initial is None:  # a resumed run: the first run's initial evaluation is in metrics.jsonl
        initial = next((dict(r) for r in read_metrics(run_dir, "eval") if r.iteration == 0), None)
    k = max(1, len(rates) // 5)
    first = sum(rates[:k]) / k if rates else float("nan")
    last = sum(rates[-k:]) / k if rates else float("nan")
    summary = {"seconds": seconds, "initial": initial, "final": final,
               "train_success_first": first, "train_success_last": last}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    init = initial or {"greedy_success": float("nan"), "sampling_success": float("nan")}
    print(f"[rltrain] done in {seconds:.0f}s -> {run_dir}\n"
          f"  held-out greedy success   {init['greedy_success']:.3f} -> {final['greedy_success']:.3f}\n"
          f"  held-out sampling success {init['sampling_success']:.3f} -> {final['sampling_success']:.3f}\n"
          f"  train-batch success (first / last {k} iterations) {first:.3f} -> {last:.3f}", flush=True)


if __name__ == "__main__":
    from rltrain.config import ConfigError
    from rltrain.config.report import report_config_error

    try:
        sys.exit(main())
    except ConfigError as exc:  # a bad config: one clear line, no traceback, exit status 2
        sys.exit(report_config_error(str(exc)))
