"""GSM8K, MATH and MATH500 loaders: local JSONL (the formats in ../shared/data/SOURCES.md) or Hub.

    load_math_dataset("gsm8k", "../shared/data/gsm8k/test.jsonl")
    load_math_dataset("math500", "../shared/data/math500")          # a folder: <folder>/<split>.jsonl
    load_math_dataset("gsm8k", "hub:openai/gsm8k@main", split="test")  # needs `pip install datasets`

Record fields: gsm8k {"question", "answer" ending in "#### N"}; math {"problem", "solution",
"unique_id"?}; math500 {"problem", "solution", "answer", "unique_id"}. Hub datasets must use
the same field names. Records without a usable answer (two MATH train solutions box
nothing) are skipped with a warning, or raise with `on_missing_answer="error"`.
Files are UTF-8 JSON lines; a bad line (not UTF-8, not JSON, a missing field) raises
`DatasetFormatError` naming `file:line`, and a source with no problems at all (an empty file)
raises it naming the file: a `UserError`, which the command lines report in one line.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable, Iterable, Iterator

from rltrain.config.sources import HUB_PREFIX
from rltrain.data.ground_truth import gsm8k_final_answer, math_final_answer
from rltrain.data.records import MathProblem
from rltrain.errors import UserError

DATASETS = ("gsm8k", "math", "math500")
logger = logging.getLogger(__name__)


class DatasetFormatError(UserError, ValueError):
    """A malformed record (the message names the file and the 1-based line number), or a source
    without a single problem (the message names it)."""


class DatasetNotFoundError(UserError, FileNotFoundError):
    """A local data source that does not exist."""


def _required(record: dict, key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise DatasetFormatError(f"{where}: field {key!r} is missing or not a string")
    return value


def _gsm8k(record: dict, uid: str, where: str) -> MathProblem:
    answer_text = _required(record, "answer", where)
    return MathProblem("gsm8k", uid, _required(record, "question", where),
                       gsm8k_final_answer(answer_text), answer_text)


def _math(record: dict, uid: str, where: str) -> MathProblem:
    solution = _required(record, "solution", where)
    return MathProblem("math", str(record.get("unique_id") or uid), _required(record, "problem", where),
                       math_final_answer(solution), solution)


def _math500(record: dict, uid: str, where: str) -> MathProblem:
    solution = record.get("solution")
    return MathProblem("math500", str(record.get("unique_id") or uid), _required(record, "problem", where),
                       _required(record, "answer", where).strip(),
                       solution if isinstance(solution, str) else None)


_CONVERTERS: dict[str, Callable[[dict, str, str], MathProblem]] = {
    "gsm8k": _gsm8k, "math": _math, "math500": _math500,
}


def jsonl_records(path: Path) -> Iterator[tuple[dict, str, str]]:
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DatasetFormatError(f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at byte "
                                         f"{exc.start + 1} of the line)") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetFormatError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DatasetFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
            yield record, where, f"{path.parent.name}/{path.name}:{lineno}"


def _hub_records(source: str, split: str) -> Iterator[tuple[dict, str, str]]:
    try:
        import datasets
    except ImportError:
        raise ImportError("loading from the Hugging Face Hub needs the optional `datasets` package: "
                          "pip install datasets") from None
    repo, _, config = source[len(HUB_PREFIX):].partition("@")
    table = datasets.load_dataset(repo, config or None, split=split)
    for i, record in enumerate(table):
        where = f"{repo}[{split}]#{i}"
        yield dict(record), where, where


def _resolve_local(source: str, split: str) -> Path:
    path = Path(source)
    if path.is_dir():
        path = path / f"{split}.jsonl"
    if not path.is_file():
        raise DatasetNotFoundError(f"dataset file not found: {path}")
    return path


def _convert_all(name: str, rows: Iterable[tuple[dict, str, str]], limit: int | None,
                 on_missing_answer: str) -> tuple[list[MathProblem], int]:
    """(problems, records skipped for want of a usable answer)."""
    convert = _CONVERTERS[name]
    problems: list[MathProblem] = []
    skipped = 0
    for record, where, uid in rows:
        if limit is not None and len(problems) >= limit:
            break
        try:
            problems.append(convert(record, uid, where))
        except DatasetFormatError:
            raise
        except ValueError as exc:  # no '####' / no \boxed{}: a record without a usable answer
            if on_missing_answer == "error":
                raise DatasetFormatError(f"{where}: {exc}") from None
            skipped += 1
    if skipped:
        logger.warning("%s: skipped %d record(s) without a usable final answer", name, skipped)
    return problems, skipped


def load_math_dataset(name: str, source: str, *, split: str = "test", limit: int | None = None,
                      on_missing_answer: str = "skip") -> list[MathProblem]:
    """Problems of dataset `name` from `source` (a .jsonl file, a folder, or "hub:<repo>[@config]")."""
    if name not in _CONVERTERS:
        raise ValueError(f"load_math_dataset: unknown dataset `name` {name!r}; expected one of {DATASETS}")
    if on_missing_answer not in ("skip", "error"):
        raise ValueError(f"load_math_dataset: `on_missing_answer` must be 'skip' or 'error', "
                         f"got {on_missing_answer!r}")
    if limit is not None and limit < 0:
        raise ValueError(f"load_math_dataset: `limit` must be >= 0, got {limit}")
    if source.startswith(HUB_PREFIX):
        where = f"{source}[{split}]"
        rows: Iterable[tuple[dict, str, str]] = _hub_records(source, split)
    else:
        path = _resolve_local(source, split)
        where, rows = str(path), jsonl_records(path)
    problems, skipped = _convert_all(name, rows, limit, on_missing_answer)
    if not problems and limit != 0:
        why = "every record lacks a usable final answer" if skipped else "it holds no records"
        raise DatasetFormatError(f"{where}: no problems to use: {why}")
    return problems


def parse_data_spec(spec: str) -> tuple[str, str]:
    """"gsm8k=path/to/test.jsonl" -> ("gsm8k", "path/to/test.jsonl"), with a clear error otherwise."""
    name, sep, source = spec.partition("=")
    if not sep or not name or not source:
        raise ValueError(f"data spec must look like NAME=PATH (NAME in {DATASETS}), got {spec!r}")
    if name not in _CONVERTERS:
        raise ValueError(f"unknown dataset name {name!r} in {spec!r}; expected one of {DATASETS}")
    return name, source

