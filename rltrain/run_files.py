"""The files of a run directory that `rltrain/main.py` reads before torch loads: the checkpoints'
names, summary.json (the last thing a finished run writes) and the atomic write they share.

    <run_dir>/checkpoints/iter-NNNNNN/   complete checkpoints (rltrain/checkpoint.py)
    <run_dir>/hf_actor/                  the exported actor, written to hf_actor.tmp and renamed
    <run_dir>/summary.json               written last, atomically; its "iteration" says how far the run got
"""
from __future__ import annotations

import json
import os
from pathlib import Path

CHECKPOINTS = "checkpoints"
HF_EXPORT = "hf_actor"
SUMMARY = "summary.json"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """The complete checkpoints, oldest first (`.tmp-*` and other dot-folders are partial or set aside)."""
    root = Path(run_dir) / CHECKPOINTS
    return sorted(p for p in root.glob("iter-*") if p.is_dir()) if root.is_dir() else []


def checkpoint_iteration(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[1])


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Write `path` through a temporary file and a rename: a reader sees the old file or the whole new one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def summary_iteration(run_dir: Path) -> int | None:
    """The iteration summary.json was written at (a finished run's last), None without a readable one."""
    try:
        value = json.loads((Path(run_dir) / SUMMARY).read_text(encoding="utf-8")).get("iteration")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def finished_run(run_dir: Path, iterations: int, export_hf: bool) -> int | None:
    """The iteration a resumed run already finished at (final evaluation, checkpoint, export and
    summary all written, at or beyond `iterations`), None when something is left to do."""
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        return None
    newest = checkpoint_iteration(ckpts[-1])
    done = summary_iteration(run_dir)
    if done != newest or newest < iterations or (export_hf and not (Path(run_dir) / HF_EXPORT).is_dir()):
        return None
    return newest
