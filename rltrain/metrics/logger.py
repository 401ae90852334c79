"""Metrics sinks: JSONL (always, rank 0) and TensorBoard (when installed and enabled)."""
from __future__ import annotations

import math
from pathlib import Path

from rltrain.metrics.records import MetricsRow, encode_row, metrics_path, read_metrics
from rltrain.run_files import write_text_atomic


class MetricsLogger:
    """`log(step, {name: float})` appends one JSON line {"iteration": step, ...} to metrics.jsonl."""

    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool):
        self.enabled = enabled
        self.path = metrics_path(run_dir)
        self.tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:  # tensorboard not installed: JSONL only
                self.tb = None

    def truncate_after(self, iteration: int) -> None:
        """On resume: drop lines of iterations > `iteration` (written after the checkpoint)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [row for row in read_metrics(self.path.parent) if row.iteration <= iteration]
        write_text_atomic(self.path, "".join(encode_row(row) + "\n" for row in kept))  # a kill keeps one or the other

    def log(self, step: int, metrics: dict[str, float], kind: str = "train") -> None:
        if not self.enabled:
            return
        clean = {k: (v if isinstance(v, (int, str)) or (isinstance(v, float) and math.isfinite(v)) else None)
                 for k, v in metrics.items()}
        with self.path.open("a") as f:
            f.write(encode_row(MetricsRow(step, kind, clean)) + "\n")
        if self.tb is not None:
            for k, v in clean.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tb.add_scalar(f"{kind}/{k}", v, step)
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
