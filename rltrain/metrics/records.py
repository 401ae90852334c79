"""metrics.jsonl: one JSON object a line, {"iteration": int, "kind": str, name: value, ...}.

`MetricsLogger` writes it (`encode_row`); `read_metrics` is the one reader (plot, experiment
report, benchmarks, the trainer's summary, tests). Kinds: "train" (one line per PPO iteration),
"eval" (held-out success), "warmup" (the built-in model's supervised warm-up).
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

Value = float | int | str | None
KINDS = ("train", "eval", "warmup")


@dataclass(frozen=True)
class MetricsRow(Mapping[str, Value]):
    """One line: its iteration, its kind and the metric values by name.

    Also a read-only mapping of the line as written (`row["iteration"]`, `row["success_rate"]`,
    `row.get("kl_coef")`, `dict(row)`).
    """

    iteration: int
    kind: str
    values: dict[str, Value] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Value:
        if key == "iteration":
            return self.iteration
        if key == "kind":
            return self.kind
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        yield "iteration"
        yield "kind"
        yield from self.values

    def __len__(self) -> int:
        return 2 + len(self.values)


def encode_row(row: MetricsRow) -> str:
    """The JSON line of `row` (no newline)."""
    return json.dumps(dict(row))


def _row(obj: object, where: str) -> MetricsRow:
    if not isinstance(obj, dict) or not isinstance(obj.get("iteration"), int) or not isinstance(obj.get("kind"), str):
        raise ValueError(f"{where}: not a metrics line (needs an int `iteration` and a str `kind`)")
    iteration, kind = obj.pop("iteration"), obj.pop("kind")
    return MetricsRow(iteration, kind, obj)


def metrics_path(run_dir: Path | str) -> Path:
    """<run_dir>/metrics.jsonl."""
    return Path(run_dir) / "metrics.jsonl"


def read_metrics(run_dir: Path | str, kind: str | None = None) -> list[MetricsRow]:
    """The rows of <run_dir>/metrics.jsonl in file order; only those of `kind` when given.

    A last line without its newline is a line still being written: it is left out when it is not
    yet valid JSON. FileNotFoundError when the file is missing; ValueError for an unknown `kind`
    and, naming the line, for a line that is not a metrics row.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"read_metrics: `kind` must be one of {KINDS} or None, got {kind!r}")
    path = metrics_path(run_dir)
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {run_dir}")
    lines = path.read_text().split("\n")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                continue
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
        row = _row(obj, f"{path}:{number}")
        if kind is None or row.kind == kind:
            rows.append(row)
    return rows
