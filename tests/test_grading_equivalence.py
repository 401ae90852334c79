"""Answer equivalence: the shared datasets against themselves and a table of tricky pairs."""
import json

import pytest
from shared_data import data_file

from rltrain.data import load_math_dataset
from rltrain.grading import Grader, GraderConfig, last_boxed
from rltrain.grading.normalize import normalize_answer

# (gold, answer in the response's \boxed{}, expected score)
TRICKY_PAIRS = [
    # fractions vs decimals, \dfrac, \frac12
    ("\\frac{1}{2}", "0.5", 1), ("0.75", "\\frac{3}{4}", 1), ("\\frac{14}{3}", "\\dfrac{14}{3}", 1),
    ("\\frac{1}{2}", "\\frac12", 1), ("\\frac{1}{2}", "\\frac{2}{4}", 1), ("3", "\\frac{6}{2}", 1),
    ("\\frac{1}{3}", "0.333333", 1), ("\\frac{1}{3}", "0.33", 0), ("1450000", "1450001", 0),
    ("\\frac{2}{3}", "0.666667", 1), ("0.5", "0.5000001", 1), ("2.5", "2.51", 0), ("-\\frac{1}{2}", "-0.5", 1),
    # percentages, units and \text{}, degrees, money
    ("50\\%", "50", 1), ("50", "50\\%", 1), ("6", "6\\%", 1), ("5\\text{ cm}", "5", 1),
    ("4", "4\\text{ inches}", 1), ("18", "18 dollars", 1), ("18", "\\$18", 1), ("20", "\\$20.00", 1),
    ("90^\\circ", "90", 1), ("90", "90^{\\circ}", 1), ("\\text{Evelyn}", "Evelyn", 1), ("\\text{(C)}", "(C)", 1),
    # thousands separators, negative numbers
    ("1600", "1,600", 1), ("1,600", "1600", 1), ("1000000", "1{,}000{,}000", 1), ("-50", "-50", 1),
    ("\u22123", "-3", 1), ("-50", "50", 0), ("10", "10.0", 1),
    # intervals, sets / tuples, \left( \right), matrices
    ("[1,2)", "[1, 2)", 1), ("(-\\infty, 3]", "(-\\infty,3]", 1), ("[1,2)", "(1,2)", 0), ("(1,2]", "(1,2)", 0),
    ("\\{1,2,3\\}", "\\{3,2,1\\}", 1), ("1,-2", "-2, 1", 1), ("(1,2)", "(2,1)", 0),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\frac{\\pi}{2})", 1),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", 1),
    # symbolic equality through math-verify
    ("3\\sqrt{13}", "\\sqrt{117}", 1), ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", 1), ("2", "\\sqrt{4}", 1),
    ("6-5i", "-5i+6", 1), ("2\\pi", "2 \\pi", 1), ("x=5", "5", 1), ("2", "x=2", 1), ("p - q", "p-q", 1),
    # wrong answers that look similar
    ("12", "21", 0), ("0.5", "0.05", 0), ("\\frac{3}{4}", "\\frac{4}{3}", 0), ("5", "5.1", 0),
    ("x^2+1", "x^2-1", 0), ("6 - 5i", "6+5i", 0), ("p - q", "q - p", 0), ("\\pi", "3.14", 0),
]


@pytest.fixture(scope="module")
def grader():
    with Grader(GraderConfig(timeout_s=2.0, workers=2)) as g:
        yield g


def test_tricky_pairs(grader):
    responses = [f"Step 1.\n\nSo the answer is $\\boxed{{{answer}}}$." for _, answer, _ in TRICKY_PAIRS]
    results = grader.grade(responses, [gold for gold, _, _ in TRICKY_PAIRS])
    wrong = [(pair, r) for pair, r in zip(TRICKY_PAIRS, results) if r.score != pair[2]]
    assert not wrong
    assert {r.reason for r in results} >= {"exact", "numeric", "math_verify", "numeric_mismatch", "not_equivalent"}


def test_every_math500_answer_matches_its_own_solution(grader):
    path = data_file("math500/test.jsonl")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    results = grader.grade([r["solution"] for r in records], [r["answer"] for r in records])
    failures = [(r["unique_id"], g) for r, g in zip(records, results) if g.score != 1.0]
    assert len(records) == 500 and not failures


def test_every_gsm8k_test_answer_matches_itself(grader):
    problems = load_math_dataset("gsm8k", str(data_file("gsm8k/test.jsonl")))
    raw = [p.solution.rsplit("####", 1)[1].strip() for p in problems]  # e.g. "1,600", as written
    results = grader.grade([f"#### {r}" for r in raw], [p.answer for p in problems])
    assert len(problems) == 1319 and all(g.score == 1.0 for g in results)
    boxed = grader.grade([f"\\boxed{{{r}}}" for r in raw], raw)
    assert all(g.score == 1.0 for g in boxed)


def test_math500_answers_also_match_in_the_math_verify_workers(grader):
    """The slow path alone (no exact / numeric shortcut) agrees on every 4th MATH500 answer
    (all 500 pass too; a quarter keeps the test within a few seconds on 2 cores)."""
    path = data_file("math500/test.jsonl")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()][::4]
    pairs = [(normalize_answer(r["answer"]), normalize_answer(last_boxed(r["solution"]))) for r in records]
    outcomes = grader.pool.map(pairs)
    assert [o for o in outcomes if o.error is not None or o.value is not True] == []


def test_batch_api_shapes_and_errors(grader):
    assert grader.grade([], []) == []
    with pytest.raises(ValueError, match="same length"):
        grader.grade(["a"], [])
    assert grader.grade_one(None, "1").reason == "invalid_input"  # type: ignore[arg-type]
    fast_only = Grader(GraderConfig(use_math_verify=False))
    assert fast_only.grade_one("\\boxed{\\sqrt{4}}", "2").reason == "not_equivalent"
    assert fast_only._pool is None  # no process was started


def test_repeated_pairs_are_verified_once(grader):
    pool_calls = []
    real_map = grader.pool.map
    grader.pool.map = lambda items: pool_calls.append(list(items)) or real_map(items)  # type: ignore[method-assign]
    try:
        first = grader.grade(["\\boxed{\\sqrt{1369}}"] * 5 + ["\\boxed{\\sqrt{1370}}"], ["37"] * 6)
        again = grader.grade_one("so \\boxed{\\sqrt{1369}}", "37")
    finally:
        del grader.pool.map
    assert [r.score for r in first] == [1.0] * 5 + [0.0] and again.reason == "math_verify"
    assert pool_calls == [[("37", "\\sqrt{1369}"), ("37", "\\sqrt{1370}")]]  # deduplicated, then cached
