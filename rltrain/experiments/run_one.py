"""One training run of an experiment, started from a shared warmed-up initial model.

    python -m rltrain.experiments.run_one --init INIT_DIR -- [--config X.yaml] key=value ...
    python -m rltrain.experiments.run_one --worker      # tasks as JSON lines on stdin

The built-in task's trainer warms its tiny model up at start (model build + supervised
warm-up, ~45 s on a CPU) and keeps the result in `<run_dir>/init_model`, which it reuses when
present (`rltrain.tasks.builtin.builtin_policy`, the path a resume takes). All reward designs
of one seed share that initial model, so the experiment builds it once per seed
(`python -m rltrain.experiments.run_one --build-init INIT_DIR -- ...`, the trainer's own
`builtin_policy` with the trainer's seeding) and copies it into each run dir here. A fresh
run deletes a stale `init_model`, so this wrapper runs `rltrain.ppo.run.run_training` with
keep=("init_model",); everything else is the trainer's run unchanged.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from pathlib import Path


MAX_RESTATEMENTS = 4


def with_restated_step(problem, rng: random.Random, more_prob: float = 0.0):
    """The problem with one of its equation lines written again right after it (a correct but
    redundant step, as a model that restates its last line would write); with `more_prob` > 0
    the line is restated once more with that probability, again and again (at most
    MAX_RESTATEMENTS times in all), as a model that starts repeating itself does."""
    from dataclasses import replace

    k = rng.randrange(len(problem.steps))
    times = 1
    while more_prob > 0 and times < MAX_RESTATEMENTS and rng.random() < more_prob:
        times += 1
    steps = problem.steps[:k + 1] + (problem.steps[k],) * times + problem.steps[k + 1:]
    return replace(problem, steps=steps)


def restating(prob: float, seed: int, more_prob: float = 0.0):
    """A `supervised_warmup` rewrite: with probability `prob` the solution restates one step
    (see `with_restated_step` for `more_prob`)."""
    rng = random.Random(seed)
    return lambda p: with_restated_step(p, rng, more_prob) if rng.random() < prob else p


def build_init(init_dir: Path, trainer_args: list[str], restated_prob: float = 0.0,
               restated_more_prob: float = 0.0) -> dict:
    """Build + warm up the built-in model as the trainer would for this config (the trainer's
    own `builtin_policy` when restated_prob == 0; else the same model / tokenizer / seeds and
    warm-up, with a fraction `restated_prob` of the solutions restating one step, see
    `with_restated_step` for `restated_more_prob`)."""
    import numpy as np
    import torch

    from rltrain.config import load_config
    from rltrain.config.arguments import parse_args
    from rltrain.tasks.builtin import builtin_policy

    args = parse_args(trainer_args)
    cfg = load_config(args.config, args.overrides)
    torch.manual_seed(cfg.run.seed)
    random.seed(cfg.run.seed)
    np.random.seed(cfg.run.seed)
    parent = init_dir.parent / (init_dir.name + ".build")
    shutil.rmtree(parent, ignore_errors=True)
    parent.mkdir(parents=True)
    if restated_prob > 0:
        from rltrain.models.tiny import save_tiny
        from rltrain.tasks.builtin import build_task_model, build_task_tokenizer, supervised_warmup

        # the same steps as builtin_policy, with restated steps in the warm-up solutions
        task = cfg.data.arithmetic
        tok = build_task_tokenizer(task, cfg.model.tiny_vocab_size)
        lm = build_task_model(tok, cfg.model.tiny, cfg.run.seed)
        rewrite = restating(restated_prob, cfg.run.seed + 8, restated_more_prob)
        losses = supervised_warmup(lm, tok, task, cfg.warmup, seed=cfg.run.seed + 7,
                                   rewrite=rewrite) if cfg.warmup.steps else []
        save_tiny(lm, tok, parent / "init_model")
    else:
        losses = builtin_policy(cfg, parent, is_main=True).warmup_losses
    info = {"warmup_steps": len(losses), "warmup_loss_first": losses[0] if losses else None,
            "warmup_loss_last": losses[-1] if losses else None, "restated_step_prob": restated_prob,
            "restated_more_prob": restated_more_prob}
    (parent / "init_model" / "warmup.json").write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(init_dir, ignore_errors=True)
    (parent / "init_model").rename(init_dir)
    shutil.rmtree(parent, ignore_errors=True)
    return info


def run_from_init(init_dir: Path, trainer_args: list[str]) -> int:
    from rltrain.config.arguments import parse_args
    from rltrain.preflight import checked_config
    from rltrain.ppo.run import run_training

    cfg = checked_config(parse_args(trainer_args))
    run_dir = Path(cfg.run.out_dir)
    target = run_dir / "init_model"
    shutil.rmtree(target, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(init_dir, target)
    return run_training(cfg, keep=("init_model",))


def serve() -> int:
    """`run_one --worker`: run tasks one after another in this process (imports paid once).

    Reads one JSON task a line from stdin ({"build_init": DIR, "restated_step_prob": P,
    "restated_more_prob": Q}, {"reward_models": DIR, "init": DIR, "settings": {...}} (the seed's
    learned PRM / ORM, `rltrain.experiments.learned_rewards`) or
    {"init": DIR}, plus "args": trainer args and "log": file for the task's stdout / stderr)
    and answers one JSON line {"rc": int} on stdout. An exception is written to the task's log
    and answered with rc 1; the worker goes on with the next task.
    """
    import traceback

    answer = os.fdopen(os.dup(1), "w", buffering=1)
    saved_out, saved_err = os.dup(1), os.dup(2)
    for line in sys.stdin:
        if not line.strip():
            continue
        task = json.loads(line)
        rc = 0
        with open(task["log"], "a") as log:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                if "build_init" in task:
                    print(json.dumps(build_init(Path(task["build_init"]), task["args"],
                                                task.get("restated_step_prob", 0.0),
                                                task.get("restated_more_prob", 0.0))), flush=True)
                elif "reward_models" in task:
                    from rltrain.experiments.learned_rewards import LearnedRMSettings, train_reward_models

                    train_reward_models(Path(task["reward_models"]), task["args"], Path(task["init"]),
                                        LearnedRMSettings.from_dict(task.get("settings")))
                else:
                    rc = run_from_init(Path(task["init"]), task["args"]) or 0
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # noqa: BLE001 - reported to the experiment, which goes on
                traceback.print_exc()
                rc = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved_out, 1)
                os.dup2(saved_err, 2)
                _reset_distributed()
        answer.write(json.dumps({"rc": rc}) + "\n")
    return 0


def _reset_distributed() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--worker"]:
        if "OMP_NUM_THREADS" not in os.environ:
            import torch

            torch.set_num_threads(1)
        return serve()
    if "--" not in argv:
        raise SystemExit("usage: run_one (--init DIR | --build-init DIR) -- [trainer args]")
    cut = argv.index("--")
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--init", type=Path)
    group.add_argument("--build-init", type=Path)
    parser.add_argument("--restated-step-prob", type=float, default=0.0,
                        help="with --build-init: warm-up solutions that restate one step, this often")
    parser.add_argument("--restated-more-prob", type=float, default=0.0,
                        help="with --build-init: chance of each further restatement of that step")
    args = parser.parse_args(argv[:cut])
    trainer_args = argv[cut + 1:]
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(1)
    if args.build_init is not None:
        print(json.dumps(build_init(args.build_init, trainer_args, args.restated_step_prob,
                                    args.restated_more_prob)), flush=True)
        return 0
    return run_from_init(args.init, trainer_args)


if __name__ == "__main__":
    sys.exit(main())
