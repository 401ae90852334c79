"""The trainer's command line: `[--config X.yaml] [key=value ...]` (rltrain/main.py, rltrain.launch,
the experiments' runs); --help lists every config key (rltrain.config.reference)."""
from __future__ import annotations

import argparse

from rltrain.config.loader import DEFAULT_CONFIG
from rltrain.config.reference import text_reference
from rltrain.errors import ArgumentParser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Namespace(config: str | None, overrides: list[str]); a usage error exits with status 2."""
    parser = ArgumentParser(
        description="PPO with success + PRM/ORM rewards (Clip / Delta)",
        epilog="config keys (key = default  [type (constraint)]; defaults before --config, which is "
               f"{DEFAULT_CONFIG.name} unless given; also docs/trainer.md):\n" + text_reference(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=None, help=f"YAML config (default: {DEFAULT_CONFIG})")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. reward.shaping=clip_delta")
    return parser.parse_intermixed_args(argv)
