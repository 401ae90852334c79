"""torchrun that checks the trainer's config before it starts any worker.

    python -m rltrain.launch --nproc_per_node=2 rltrain/main.py [--config X.yaml] [key=value ...]

Takes torchrun's arguments. When the script is rltrain/main.py (or `-m rltrain.main`), the
config is loaded and checked here first (with the world size torchrun will use, when it is
fixed), and so are the data files it names (every line): a bad config or data file prints one
line, `rltrain: config key ...` / `rltrain: <file>:<line>: ...`, and exits with status 2, with
no workers started and nothing after it. Otherwise this is `torchrun` itself. Plain `torchrun`
works too; a config error then also shows up in torchrun's failure summary, and torchrun exits
with status 1 (docs/trainer.md "Config errors under torchrun").
"""
from __future__ import annotations

import sys
from pathlib import Path

TRAINER = Path(__file__).resolve().parent / "main.py"


def _is_trainer(args) -> bool:
    if args.module:
        return args.training_script == "rltrain.main"
    return Path(args.training_script).resolve() == TRAINER


def _world_size(args) -> int | None:
    """Processes torchrun will start, or None when it is not fixed (elastic node counts)."""
    from torch.distributed.run import determine_local_world_size, parse_min_max_nnodes

    low, high = parse_min_max_nnodes(args.nnodes)
    return high * determine_local_world_size(args.nproc_per_node) if low == high else None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from torch.distributed import run as torchrun

    args = torchrun.parse_args(argv)
    if _is_trainer(args):
        from rltrain.config import ConfigError
        from rltrain.config.report import EXIT_STATUS, config_error_line
        from rltrain.errors import UserError
        from rltrain.config.arguments import parse_args
        from rltrain.preflight import checked_config

        try:
            cfg = checked_config(parse_args(args.training_script_args), _world_size(args))
            if cfg.data.dataset != "arithmetic":  # the built-in task's problems are generated, never bad
                from rltrain.ppo.prompts import load_problems

                load_problems(cfg)
        except (ConfigError, UserError) as exc:
            print(config_error_line(str(exc)), file=sys.stderr, flush=True)
            return EXIT_STATUS
    torchrun.main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
