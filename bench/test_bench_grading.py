"""Grader throughput: graded responses per second (targets: >= 500/s GSM8K-style, >= 100/s MATH-style).

    OMP_NUM_THREADS=1 pytest bench/test_bench_grading.py --benchmark-only

Each round grades a whole batch with a fresh `Grader` (2 worker processes, started and
warmed up before the clock starts, so no verdict or parse cache carries over between rounds);
extra_info "responses_per_s" is batch size / mean round time. Workloads, built from the
shared datasets (skipped when ../shared/data is absent):
- gsm8k_numeric: the 1319 GSM8K test reference solutions as responses, half of them with a
  wrong final number; numeric answers, decided by the in-process fast paths.
- math_latex_mixed: the 500 MATH500 reference solutions as responses; every other one has
  its boxed answer replaced by a wrong variant ("<answer>+1"), which only math-verify decides.
- math_latex_all_math_verify: worst case, every MATH500 answer written as "<answer>+0", so
  no fast path applies and every item is a math-verify check in the worker pool.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rltrain.grading import Grader, GraderConfig

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _records(relative: str) -> list[dict]:
    path = DATA_DIR / relative
    if not path.is_file():
        pytest.skip(f"shared dataset {relative} not found at {path}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _replace_last_box(solution: str, answer: str, new: str) -> str:
    marker = f"\\boxed{{{answer}}}"
    head, sep, tail = solution.rpartition(marker)
    return head + f"\\boxed{{{new}}}" + tail if sep else solution + f"\n\n\\boxed{{{new}}}"


def _gsm8k_workload() -> tuple[list[str], list[str]]:
    responses, golds = [], []
    for i, r in enumerate(_records("gsm8k/test.jsonl")):
        reasoning, final = r["answer"].rsplit("####", 1)
        gold = final.strip().replace(",", "")
        shown = gold if i % 2 == 0 else str(int(float(gold)) + 1)
        responses.append(reasoning.strip().replace("\n", "\n\n") + f"\n\nThe answer is \\boxed{{{shown}}}.")
        golds.append(gold)
    return responses, golds


def _math_workload(kind: str) -> tuple[list[str], list[str]]:
    responses, golds = [], []
    for i, r in enumerate(_records("math500/test.jsonl")):
        answer = r["answer"]
        if kind == "mixed":
            new = answer if i % 2 == 0 else f"{answer}+1"
        else:
            new = f"{answer}+0"
        responses.append(_replace_last_box(r["solution"], answer, new))
        golds.append(answer)
    return responses, golds


@pytest.mark.parametrize("workload", ["gsm8k_numeric", "math_latex_mixed", "math_latex_all_math_verify"])
def test_grading_throughput(benchmark, workload):
    if workload == "gsm8k_numeric":
        responses, golds = _gsm8k_workload()
    else:
        responses, golds = _math_workload("mixed" if workload == "math_latex_mixed" else "all")
    graders: list[Grader] = []

    def fresh_grader():
        grader = Grader(GraderConfig(timeout_s=3.0, workers=2))
        grader.grade_one("\\boxed{\\sqrt{4}}", "2")  # start and warm the pool outside the timing
        graders.append(grader)
        return (responses, golds), {}

    try:
        results = benchmark.pedantic(lambda r, g: graders[-1].grade(r, g), setup=fresh_grader,
                                     rounds=3, iterations=1)
    finally:
        for grader in graders:
            grader.close()
    rate = len(responses) / benchmark.stats.stats.mean
    reasons: dict[str, int] = {}
    for r in results:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    benchmark.extra_info.update({"responses": len(responses), "responses_per_s": round(rate, 1),
                                 "accuracy": sum(r.score for r in results) / len(results), "reasons": reasons})
    assert len(results) == len(responses)
