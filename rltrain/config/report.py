"""How a process reports a bad config: one line on stderr and exit status 2.

Under torchrun every rank reads the same config and fails the same way. Only local rank 0 prints
the line (once per node, not once per rank); every rank also writes it to its torchelastic error
file (`TORCHELASTIC_ERROR_FILE`), so that the failure summary torchrun prints when it exits shows
the line as the root cause's `traceback` instead of a link to the docs. torchrun itself still
exits with status 1 after its summary (docs/trainer.md "Config errors under torchrun");
`python -m rltrain.launch` checks the config before it starts torchrun.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Mapping, TextIO

EXIT_STATUS = 2


def config_error_line(message: str) -> str:
    return f"rltrain: {message}"


def report_config_error(message: str, env: Mapping[str, str] = os.environ, stream: TextIO | None = None) -> int:
    """Print (local rank 0 only) and record the error for torchelastic; returns the exit status."""
    line = config_error_line(message)
    if env.get("LOCAL_RANK", "0") == "0":
        print(line, file=stream or sys.stderr, flush=True)
    error_file = env.get("TORCHELASTIC_ERROR_FILE")
    if error_file:
        stamp = str(int(time.time()))
        record = {"message": {"message": line, "extraInfo": {"py_callstack": line, "timestamp": stamp}}}
        try:
            with open(error_file, "w") as f:
                json.dump(record, f)
        except OSError:
            pass  # the printed line is what matters; the summary then shows torchrun's default text
    return EXIT_STATUS
