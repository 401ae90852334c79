"""The trainer's entry point: `torchrun [--nproc_per_node=N] rltrain/main.py [--config X.yaml] [key=value ...]`.

Without --config it trains the built-in arithmetic task (configs/builtin.yaml). Also runs as plain
`python rltrain/main.py` (one process) and as `python -m rltrain.main`. Parses and checks the config
(one line, exit status 2, before any model loads), then runs `rltrain.ppo.run.run_training`.
"""
from __future__ import annotations

import os
import sys

# Run as a script, sys.path[0] is rltrain/ itself: its modules (e.g. rltrain/config, a would-be
# `types`) must not shadow top-level names. Import from the repo root, and the fused ops from kernels/.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0:1] = [os.path.dirname(_HERE), os.path.join(os.path.dirname(_HERE), "kernels")]

from rltrain.config import ConfigError  # noqa: E402
from rltrain.config.arguments import parse_args  # noqa: E402
from rltrain.config.report import report_config_error  # noqa: E402
from rltrain.errors import WRITE_ERRNOS, UserError  # noqa: E402
from rltrain.preflight import checked_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Train; raises ConfigError / UserError (a bad config, data file or path) before any model loads."""
    cfg = checked_config(parse_args(argv))
    from rltrain.ppo.run import run_training

    return run_training(cfg)


def _report(message: str) -> int:
    """One line (local rank 0), the torchelastic error file, exit status 2 (rltrain.config.report)."""
    if "torch" in sys.modules:
        from rltrain.distributed.setup import shutdown_distributed

        shutdown_distributed()
    return report_config_error(message)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ConfigError, UserError) as exc:  # a bad config, data file or path: one line, status 2
        sys.exit(_report(str(exc)))
    except OSError as exc:  # a full disk, a read-only run dir
        if exc.errno not in WRITE_ERRNOS:
            raise
        sys.exit(_report(f"cannot write {exc.filename or 'a file'}: {os.strerror(exc.errno).lower()}"))
