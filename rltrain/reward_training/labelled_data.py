"""Existing step-labelled data: Math-Shepherd and PRM800K JSONL -> `StepExample`s.

Math-Shepherd: {"input": "<question> Step 1: ... ки\\nStep 2: ... ки", "label": the same text with
each "ки" replaced by "+" or "-"}. The prompt is the text before "Step 1:" (stripped; the whole
first piece goes to step 0 when there is no "Step 1:"), each step is the text between tags,
stripped, with "\n\n" after every step but the last (the policy's step format).

PRM800K (raw schema): question.problem, question.ground_truth_answer, label.steps[] each with
completions[{text, rating -1/0/1}], chosen_completion (index or null), human_completion. Per step
the chosen completion is taken (else the human one, rated good; else the first completion, and
the trajectory ends there; a step whose completions are null ends it too); rating 1 -> 1.0,
-1 -> 0.0, 0 -> `neutral` (default 1.0: the step is not wrong). The trajectory ends after a
step rated -1. Steps are joined by "\\n\\n".
A malformed line raises `DatasetFormatError` naming the file and line.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from rltrain.data.loaders import DatasetFormatError, jsonl_records
from rltrain.reward_training.training import StepExample

MS_TAG = "ки"
LABEL_VALUES = {"+": 1.0, "-": 0.0}
FORMATS = ("math-shepherd", "prm800k")


def parse_math_shepherd(record: dict, where: str) -> StepExample:
    text, label = record.get("input"), record.get("label")
    if not isinstance(text, str) or not isinstance(label, str):
        raise DatasetFormatError(f"{where}: not a Math-Shepherd record (needs string fields 'input' and 'label', "
                                 f"got keys {sorted(record)})")
    pieces = text.split(MS_TAG)
    if len(pieces) < 2:
        raise DatasetFormatError(f"{where}: Math-Shepherd 'input' has no step tag {MS_TAG!r}")
    labels, pos = [], 0
    for k, piece in enumerate(pieces[:-1]):
        if label[pos:pos + len(piece)] != piece:
            raise DatasetFormatError(f"{where}: 'label' does not match 'input' before step tag {k + 1}")
        pos += len(piece)
        mark = label[pos:pos + 1]
        if mark not in LABEL_VALUES:
            raise DatasetFormatError(f"{where}: step {k + 1} label is {mark!r}, expected '+' or '-'")
        labels.append(LABEL_VALUES[mark])
        pos += 1
    if label[pos:] != pieces[-1]:
        raise DatasetFormatError(f"{where}: 'label' does not match 'input' after the last step tag")
    first = pieces[0]
    cut = first.find("Step 1:")
    prompt, steps = (first[:cut].strip(), [first[cut:]]) if cut >= 0 else ("", [first])
    steps = [s.strip() for s in steps + pieces[1:-1]]
    return StepExample(prompt, [s + "\n\n" for s in steps[:-1]] + steps[-1:], labels, where)


def _rating(value, neutral: float, where: str) -> float:
    if value not in (-1, 0, 1) or isinstance(value, bool):
        raise DatasetFormatError(f"{where}: rating must be -1, 0 or 1, got {value!r}")
    return {1: 1.0, -1: 0.0, 0: neutral}[value]


def parse_prm800k(record: dict, where: str, neutral: float = 1.0) -> StepExample | None:
    """A StepExample, or None for a record without any rated step."""
    question, label = record.get("question"), record.get("label")
    if not isinstance(question, dict) or not isinstance(question.get("problem"), str) \
            or not isinstance(label, dict) or not isinstance(label.get("steps"), list):
        raise DatasetFormatError(f"{where}: not a PRM800K record (needs question.problem and label.steps)")
    steps, labels = [], []
    for k, step in enumerate(label["steps"]):
        if not isinstance(step, dict):
            raise DatasetFormatError(f"{where}: label.steps[{k}] must be an object")
        comps = step.get("completions")
        if comps is None:  # an unfinished trajectory: nothing was generated for this step
            break
        if not isinstance(comps, list) or not all(isinstance(c, dict) and isinstance(c.get("text"), str)
                                                  for c in comps):
            raise DatasetFormatError(f"{where}: label.steps[{k}].completions must be a list of {{text, rating}}")
        chosen, human = step.get("chosen_completion"), step.get("human_completion")
        last = False
        if isinstance(chosen, int) and 0 <= chosen < len(comps):
            text, value = comps[chosen]["text"], _rating(comps[chosen].get("rating"), neutral, where)
        elif isinstance(human, dict) and isinstance(human.get("text"), str):
            text, value = human["text"], 1.0
        elif comps and comps[0].get("rating") is not None:
            text, value, last = comps[0]["text"], _rating(comps[0].get("rating"), neutral, where), True
        else:
            break
        steps.append(text.strip() + "\n\n")
        labels.append(value)
        if last or value == 0.0:
            break
    if not steps:
        return None
    steps[-1] = steps[-1].rstrip("\n")
    return StepExample(question["problem"].strip(), steps, labels, where)


def load_step_labelled(fmt: str, path: str | Path, *, limit: int | None = None,
                       neutral: float = 1.0) -> list[StepExample]:
    """Read a Math-Shepherd or PRM800K JSONL file."""
    if fmt not in FORMATS:
        raise ValueError(f"load_step_labelled: format must be one of {FORMATS}, got {fmt!r}")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{fmt} data not found: {p}")
    out: list[StepExample] = []
    for example in _examples(fmt, p, neutral):
        if limit is not None and len(out) >= limit:
            break
        out.append(example)
    return out


def _examples(fmt: str, path: Path, neutral: float) -> Iterator[StepExample]:
    for record, where, _ in jsonl_records(path):
        example = parse_math_shepherd(record, where) if fmt == "math-shepherd" else \
            parse_prm800k(record, where, neutral)
        if example is not None:
            yield example
