"""Errors the command lines report as one line (no traceback) with exit status 2, and the checks
of paths they share. Imports nothing heavy (no torch), so a CLI can check its arguments first.

`UserError`: what the user gave (an argument, a data file, a path) or the machine it runs on (a
full disk, a damaged checkpoint) is wrong, and the message says where (file:line, key or path) and
what. Every CLI (`rltrain/main.py`, `python -m rltrain.eval`, `rltrain.rm_train`, `rltrain.plot`)
prints it as one line and exits with `EXIT_STATUS`.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import Callable

EXIT_STATUS = 2
# errno values that say the machine refused a write (not a bug): reported as one line
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM,
                          errno.ENOTDIR, errno.EISDIR, errno.EIO})
_LOW_SPACE_BYTES = 1 << 20


class UserError(Exception):
    """A problem with the input or the machine, explained in one line (see the module docstring)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, whose usage errors are one line (`prog: error: ...`, exit status 2) instead of the usage text."""

    def error(self, message: str):
        self.exit(EXIT_STATUS, f"{self.prog}: error: {message} (see --help)\n")


def first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(text).__name__


def one_line(text: object) -> str:
    """The message with its lines and runs of white space joined by single spaces."""
    return " ".join(str(text).split()) or type(text).__name__


def _os_errors(exc: BaseException):
    """OSErrors in `exc`, its causes / contexts and (torch.distributed.checkpoint) its per-rank failures."""
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError):
            yield e
        todo += [e.__cause__, e.__context__]
        failures = getattr(e, "failures", None)  # CheckpointException: {rank: (exception, traceback)}
        if isinstance(failures, dict):
            todo += [f[0] if isinstance(f, tuple) else f for f in failures.values()]


def root_cause(exc: BaseException) -> BaseException:
    """The first rank's exception inside a torch.distributed.checkpoint CheckpointException, else `exc`."""
    failures = getattr(exc, "failures", None)
    if isinstance(failures, dict) and failures:
        first = next(iter(failures.values()))
        return first[0] if isinstance(first, tuple) else first
    return exc


def _free_bytes(path: Path) -> int | None:
    for p in (path, *path.parents):
        try:
            st = os.statvfs(p)
            return st.f_bavail * st.f_frsize
        except OSError:
            continue
    return None


def write_failure(exc: BaseException, path: Path | str) -> str:
    """Why writing under `path` failed, in words: the OS error when there is one (torch's zip writer
    reports a full disk as "[enforce fail at inline_container.cc] unexpected pos"), else a near-full
    filesystem when that is what the free space says, else the error's first line."""
    path = Path(path)
    for e in _os_errors(exc):
        if e.errno is not None:
            where = f" ({e.filename})" if e.filename else ""
            return f"{os.strerror(e.errno).lower()}{where}"
    cause = root_cause(exc)
    free = _free_bytes(path)
    if free is not None and free < _LOW_SPACE_BYTES:
        return f"no space left on device ({free} bytes free; {type(cause).__name__}: {first_line(cause)})"
    return f"{type(cause).__name__}: {first_line(cause)}"


def output_dir_problem(path: Path | str) -> str | None:
    """What keeps `path` from being a writable folder (it may not exist yet), or None. Creates nothing."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            return "exists and is not a folder"
        return None if os.access(p, os.W_OK | os.X_OK) else "the folder is not writable"
    parent = next((a for a in p.absolute().parents if a.exists()), None)
    if parent is None:
        return None
    if not parent.is_dir():
        return f"cannot make it: {parent} is a file, not a folder"
    return None if os.access(parent, os.W_OK | os.X_OK) else f"cannot make it: {parent} is not writable"


def check_output_dir(path: Path | str, flag: str) -> Path:
    """`path`, when it is a writable folder or one that can be made; else UserError naming `flag` and the path."""
    problem = output_dir_problem(path)
    if problem:
        raise UserError(f"{flag} {path}: {problem}")
    return Path(path)


def run_cli(body: Callable[[], int], out: object, catch: tuple[type[BaseException], ...] = ()) -> int:
    """`body()` under the command lines' rule: a UserError (or one of `catch`), an OSError the machine
    raised on a write (naming the file, else `out`) or one without an errno (transformers' way of
    saying a model folder cannot be read) is one line on stderr, `error: ...`, and EXIT_STATUS."""
    try:
        return body()
    except (UserError, *catch) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
    except OSError as exc:
        if exc.errno is not None and exc.errno not in WRITE_ERRNOS:
            raise
        reason = os.strerror(exc.errno).lower() if exc.errno is not None else one_line(exc)
        print(f"error: cannot write {exc.filename or out}: {reason}" if exc.errno is not None else f"error: {reason}",
              file=sys.stderr)
    return EXIT_STATUS
