"""A small process pool with a hard per-item time limit that survives hung or crashed workers.

Each worker runs one importable function ("module:function") on one item at a time. When
an item overruns `timeout_s`, its worker is killed (SIGKILL) and replaced, and the item's
result is `error="timeout"`; a worker that dies mid-item gives `error="crashed"`; an
exception gives `error="error: <ExceptionType>"`. Workers start from a fork server (a
clean single-threaded process), so they are safe to start from a process that already
runs threads (torch, tokenizers). A worker announces itself ready only after its warm-up,
so start-up time never counts against an item's limit.

multiprocessing would have the fork server and every worker import the caller's `__main__`
(to find the target function); a user's script without an `if __name__ == "__main__":` guard
would then run again in each of them, grading and starting pools of its own, until the workers
"keep dying". The workers need nothing from `__main__` (they run "module:function"), so while
one starts, multiprocessing sees a bare stand-in `__main__` with no file and no module name.
"""
from __future__ import annotations

import importlib
import multiprocessing as mp
import sys
import time
import types
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Sequence

_READY = "ready"
_MAX_STARTUP_FAILURES = 3


@dataclass(frozen=True)
class TaskResult:
    """`value` is the function's return value when `error` is None."""

    value: Any = None
    error: str | None = None


def _resolve(spec: str) -> Callable[[Any], Any]:
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"TimeLimitedPool: function spec must be 'module:function', got {spec!r}")
    return getattr(importlib.import_module(module), name)


def _limit_memory(memory_limit_mb: int | None) -> None:
    if not memory_limit_mb:
        return
    import resource

    limit = memory_limit_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):  # a lower hard limit is already set: keep it
        pass


def _worker_main(conn: Connection, function: str, warm_up: str | None,
                 memory_limit_mb: int | None) -> None:
    _limit_memory(memory_limit_mb)
    fn = _resolve(function)
    if warm_up:
        _resolve(warm_up)()
    conn.send(_READY)
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        try:
            conn.send((fn(item), None))
        except BaseException as exc:  # noqa: BLE001 - any failure of the item is its result
            conn.send((None, f"error: {type(exc).__name__}"))


@contextmanager
def _bare_main():
    """multiprocessing's preparation data names no main module to import (module docstring)."""
    caller = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if caller is not None:
            sys.modules["__main__"] = caller


class _Worker:
    def __init__(self, ctx, function: str, warm_up: str | None, memory_limit_mb: int | None):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, function, warm_up, memory_limit_mb),
                                   daemon=True)
        with _bare_main():  # also covers the fork server's start, on the first worker
            self.process.start()
        child.close()
        self.ready = False
        self.task: int | None = None
        self.deadline = float("inf")

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=1)
        self.kill()


class TimeLimitedPool:
    """`TimeLimitedPool("pkg.mod:fn", workers=2, timeout_s=3.0).map(items)` -> list[TaskResult].

    Items and return values must be picklable. Use as a context manager or call `close()`.
    """

    def __init__(self, function: str, *, workers: int = 2, timeout_s: float = 3.0,
                 warm_up: str | None = None, memory_limit_mb: int | None = 4096,
                 start_method: str = "forkserver", preload: Sequence[str] = ()):
        if workers < 1:
            raise ValueError(f"TimeLimitedPool: `workers` must be >= 1, got {workers}")
        if not timeout_s > 0:
            raise ValueError(f"TimeLimitedPool: `timeout_s` must be > 0, got {timeout_s}")
        self.function, self.warm_up, self.timeout_s = function, warm_up, float(timeout_s)
        self.memory_limit_mb = memory_limit_mb
        self.replacements = 0  # workers killed or lost and started again
        self._startup_failures = 0
        self._ctx = mp.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload([function.partition(":")[0], *preload])
        self._workers = [self._start() for _ in range(workers)]

    def _start(self) -> _Worker:
        return _Worker(self._ctx, self.function, self.warm_up, self.memory_limit_mb)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self._workers[self._workers.index(worker)] = self._start()
        self.replacements += 1

    def map(self, items: Sequence[Any]) -> list[TaskResult]:
        """Run the function on every item; results in item order, one per item."""
        if not self._workers:
            raise ValueError("TimeLimitedPool: the pool is closed")
        results: list[TaskResult | None] = [None] * len(items)
        pending = deque(range(len(items)))
        while pending or any(w.task is not None for w in self._workers):
            for w in list(self._workers):
                if w.ready and w.task is None and pending:
                    try:
                        w.conn.send(items[pending[0]])
                    except OSError:  # died while idle: replace it, the item waits for another
                        self._replace(w)
                        continue
                    w.task = pending.popleft()
                    w.deadline = time.monotonic() + self.timeout_s
            busy_deadline = min((w.deadline for w in self._workers if w.task is not None),
                                default=None)
            wait_s = None if busy_deadline is None else max(0.0, busy_deadline - time.monotonic())
            self._collect(wait([w.conn for w in self._workers], timeout=wait_s), results)
            now = time.monotonic()
            for w in list(self._workers):
                if w.task is not None and now >= w.deadline:
                    results[w.task] = TaskResult(error="timeout")
                    self._replace(w)
        return [r if r is not None else TaskResult(error="crashed") for r in results]

    def _collect(self, ready_conns: list, results: list[TaskResult | None]) -> None:
        for w in list(self._workers):
            if w.conn not in ready_conns:
                continue
            try:
                message = w.conn.recv()
            except (EOFError, OSError):  # the process died (crash, OOM kill, os._exit)
                if w.task is not None:
                    results[w.task] = TaskResult(error="crashed")
                self._startup_failures = 0 if w.ready else self._startup_failures + 1
                if self._startup_failures > _MAX_STARTUP_FAILURES:
                    raise RuntimeError(f"TimeLimitedPool: workers for {self.function!r} keep dying "
                                       "before they are ready (import or warm-up failure)")
                self._replace(w)
                continue
            if message == _READY:
                w.ready = True
                self._startup_failures = 0
            elif w.task is not None:
                value, error = message
                results[w.task] = TaskResult(value=value, error=error)
                w.task = None

    def close(self) -> None:
        for w in self._workers:
            w.stop()
        self._workers = []

    def __enter__(self) -> "TimeLimitedPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
