"""Run rltrain/main.py with one fault injected (tests only): `python tests/support/fault_run.py [main.py args]`,
also as torchrun's script. $RLTRAIN_FAULT names the fault:

  enospc:<checkpoint>   every write into <run>/checkpoints/.tmp-<checkpoint>/ by torch.distributed.checkpoint
                        fails with OSError(ENOSPC), as on a full disk
  kill:<checkpoint>     rank $RLTRAIN_FAULT_RANK (default 0) writes half of its first shard of that checkpoint,
                        then kill -9's the job: torchrun (its parent, when $RLTRAIN_FAULT_PIDS is set), every
                        rank that wrote its pid to that folder, and itself
  kill:export           kill -9 of this process half-way through the Hugging Face export's model.safetensors
"""
from __future__ import annotations

import errno
import os
import runpy
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

MAIN = Path(__file__).resolve().parents[2] / "rltrain" / "main.py"
FAULT = os.environ.get("RLTRAIN_FAULT", "")
RANK = int(os.environ.get("RANK", "0"))
PIDS = os.environ.get("RLTRAIN_FAULT_PIDS")


def _kill_job() -> None:
    if PIDS:
        others = [int(p.read_text()) for p in Path(PIDS).iterdir()] + [os.getppid()]
        for pid in others:
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    os.kill(os.getpid(), signal.SIGKILL)


class _Faulty:
    """A stream whose first write fails (enospc) or half-writes and kills the job (kill)."""

    def __init__(self, stream, action: str):
        self.stream, self.action = stream, action

    def write(self, data) -> int:
        if self.action == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = memoryview(data).cast("B")
        self.stream.write(view[: len(view) // 2])
        self.stream.flush()
        _kill_job()
        return 0

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _patch_checkpoint_writes(action: str, checkpoint: str) -> None:
    from torch.distributed.checkpoint import filesystem

    original = filesystem.FileSystem.create_stream
    target = f".tmp-{checkpoint}"

    @contextmanager
    def create_stream(self, path, mode):
        with original(self, path, mode) as stream:
            hit = "w" in mode and Path(path).parent.name == target and (action == "enospc" or RANK == int(
                os.environ.get("RLTRAIN_FAULT_RANK", "0")))
            yield _Faulty(stream, action) if hit else stream

    filesystem.FileSystem.create_stream = create_stream


def _patch_export() -> None:
    import safetensors.torch

    original = safetensors.torch.save_file

    def save_file(tensors, filename, metadata=None):
        if Path(filename).parent.name != "hf_actor.tmp":  # e.g. the built-in model's init_model
            return original(tensors, filename, metadata=metadata)
        with open(filename, "wb") as f:
            f.write(b"\0" * 1024)
            f.flush()
        _kill_job()

    safetensors.torch.save_file = save_file


if __name__ == "__main__":
    if PIDS:
        Path(PIDS, str(RANK)).write_text(str(os.getpid()))
    action, _, where = FAULT.partition(":")
    if action in ("enospc", "kill") and where != "export":
        _patch_checkpoint_writes(action, where)
    elif FAULT == "kill:export":
        _patch_export()
    elif FAULT:
        raise SystemExit(f"fault_run.py: unknown RLTRAIN_FAULT {FAULT!r}")
    sys.argv = [str(MAIN), *sys.argv[1:]]
    runpy.run_path(str(MAIN), run_name="__main__")
