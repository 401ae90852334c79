"""Answer equivalence: the shared datasets against themselves and tables of tricky pairs."""
import json
import re
import time

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
    ("\\frac{2}{3}", "0.666667", 1), ("0.5", "0.5000001", 0), ("2.5", "2.51", 0), ("-\\frac{1}{2}", "-0.5", 1),
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


# (gold, boxed answer, expected score), one table per rule
TINY_AND_NEAR_EQUAL_NUMBERS = [
    # exact comparison of plain numbers in the calling process
    ("\\frac{1}{3000000}", "\\frac{1}{4000000}", 0), ("0", "\\frac{1}{4000000}", 0),
    ("0.0000001", "0.0000002", 0), ("1450000", "1450000.0000001", 0), ("3", "2.9999999", 0),
    ("\\frac{1}{3000000}", "0.0000003", 0), ("\\frac{1}{3000000}", "0.000000333333", 1),
    ("\\frac{1}{4000000}", "0.00000025", 1), ("\\frac{1}{7}", "0.142857", 1),
    ("(\\frac{1}{3}, 2)", "(0.333333, 2)", 1), ("(\\frac{1}{3000000}, 1)", "(0.0000003, 1)", 0),
    # powers, factorials and irrational numbers, decided in the math-verify workers
    ("\\frac{1}{20!}", "\\frac{1}{21!}", 0), ("\\frac{1}{2^{60}}", "\\frac{1}{2^{61}}", 0), ("10^{-30}", "10^{-31}", 0),
    ("\\frac{\\sqrt{2}}{10^{20}}", "\\frac{\\sqrt{3}}{10^{20}}", 0), ("2^{-60}", "\\frac{1}{2^{60}}", 1),
    ("\\frac{1}{20!}", "\\frac{21}{21!}", 1), ("\\frac{\\sqrt{2}}{2}", "0.707107", 1),
    ("\\frac{\\sqrt{2}}{2}", "0.7071", 0), ("\\pi", "3.14159", 1), ("\\pi", "3.14158", 0),
    ("4.123105625617661", "\\sqrt{17}", 1), ("(\\frac{1}{3000000}, x)", "(0.0000003, x)", 0),
    ("(\\frac{1}{4}, x)", "(0.25, x)", 1), ("1.5x", "\\frac{3}{2}x", 1),
]
THOUSANDS_AND_LISTS = [
    ("[-36,104]", "[-36, 104]", 1), ("-36104", "[-36, 104]", 0), ("[-36,104]", "[-36104]", 0),
    ("32349", "32, 349", 0), ("32349", "32,349", 1), ("32349", "32,\\! 349", 1), ("(100,101)", "(100, 101)", 1),
    ("100101", "(100,101)", 0), ("1000", "\\$1,000", 1), ("12345.5", "12,345.5", 1), ("1, 2, 3", "1,2,3", 1),
    ("123", "1,2,3", 0), ("(2, 12) \\cup (12, 102)", "(2,12) \\cup (12,102)", 1),
    ("\\{1000, 2\\}", "\\{1{,}000, 2\\}", 1),
]
VARIABLES = [
    ("x=5", "y=5", 0), ("5", "x=5", 1), ("3", "k=3", 1), ("x=5", "5", 1), ("x=5", "x = 5", 1), ("x=5", "x=6", 0),
    ("2x+4y-3=0", "y=-\\frac{1}{2}x+\\frac{3}{4}", 1), ("y=-2x+1", "y = 1 - 2x", 1), ("y=-2x+1", "x=-2y+1", 0),
    ("x=\\frac{1}{67}", "\\frac{1}{67}", 1), ("p=2", "q=2", 0),
]
TEXT_AND_UNITS = [("\\text{M}", "\\text{M}", 1), ("\\text{M}", "M", 1), ("\\text{m}", "\\text{ m}", 1),
                  ("5\\text{ m}", "5", 1), ("28\\%", "28 percent", 1), ("\\text{(A)}", "\\text{(B)}", 0),
                  ("6", "6 \\text{ square units}", 1), ("6", "6 square units", 1), ("18\\%", "18 \\text{ percent}", 1)]
# whitespace between digits never fuses them: mixed numbers, space-grouped thousands, notation
MIXED_AND_SCIENTIFIC = [
    ("5.5", "1 1/2", 0), ("1.5", "1 1/2", 1), ("\\frac{21}{2}", "2 1/2", 0), ("\\frac{5}{2}", "2 1/2", 1),
    ("3.25", "3\\ 1/4", 1), ("-2.5", "-2 1/2", 1), ("1000000", "1 000 000", 1), ("1000", "1\\,000", 1),
    ("12", "1 2", 0), ("0.0000001", "1e-7", 1), ("0.0000001", "1\\times10^{-7}", 1), ("2500", "2.5E3", 1),
    ("0.0000001", "1e-6", 0),
]
# (gold, whole response, expected score): "the answer is" phrases as models write them
PHRASED_RESPONSES = [
    ("18", "The answer is **18**.", 1), ("18", "Final Answer: **18**", 1), ("18", "**Final Answer:** 18", 1),
    ("18", "**Final Answer:** $18$", 1), ("18", "The answer is **18** dollars.", 1), ("18", "The answer is $\\$18$.", 1),
    ("18", "The answer is 18, not 20.", 1), ("20", "The answer is 18, not 20.", 0), ("18", "The final answer is \\[18\\]", 1),
    ("(1,2)", "The answer is (1, 2).", 1), ("1,2,3", "The answer is 1, 2, 3.", 1), ("5", "The answer is $x = 5$, so done.", 1),
    ("\\$32,\\!348", "The answer is $\\$32,\\!348$.", 1), ("\\$18.90", "The answer is $\\$18.90$.", 1),
]
# (gold, whole response, expected score): the last-number fallback never takes a piece
UNBOXED_RESPONSES = [
    ("(0,9)", "The value is [0,9).", 0), ("2", "so x = \\frac{1+\\sqrt{5}}{2}", 0), ("2", "AZYUK2A", 0),
    ("10", "we get 2^{10}", 0), ("3", "the roots are 1, 2, 3", 0), ("349", "it is 32, 349", 0), ("4", "x_4", 0),
    ("2/3", "the probability is 2/3", 1), ("18", "so she has 18 apples.", 1), ("1234", "#### 1,234", 1),
]


def _grade_table(grader, table, make_response=lambda answer: f"Step 1.\n\nSo the answer is $\\boxed{{{answer}}}$."):
    results = grader.grade([make_response(answer) for _, answer, _ in table], [gold for gold, _, _ in table])
    return [(case, r) for case, r in zip(table, results) if r.score != case[2]]


@pytest.mark.parametrize("table", [TINY_AND_NEAR_EQUAL_NUMBERS, THOUSANDS_AND_LISTS, VARIABLES, TEXT_AND_UNITS,
                                   MIXED_AND_SCIENTIFIC],
                         ids=["tiny_and_near_equal_numbers", "thousands_and_lists", "variables", "text_and_units",
                              "mixed_and_scientific"])
def test_rule_tables(grader, table):
    assert _grade_table(grader, table) == []


def test_phrased_answers_with_markdown_and_math_delimiters(grader):
    assert _grade_table(grader, PHRASED_RESPONSES, make_response=lambda response: response) == []


def test_every_gsm8k_answer_matches_when_phrased_with_a_dollar_sign(grader):
    """"The answer is $\\$<gold>$." for every GSM8K test answer (the `\\$` is not a math delimiter)."""
    golds = [json.loads(x)["answer"].split("####")[-1].strip()
             for x in data_file("gsm8k/test.jsonl").read_text(encoding="utf-8").splitlines()]
    results = grader.grade([f"Step 1.\n\nThe answer is $\\${g}$." for g in golds], golds)
    assert [(g, r) for g, r in zip(golds, results) if r.score != 1] == []


def test_unboxed_responses_grade_only_a_standalone_last_number(grader):
    assert _grade_table(grader, UNBOXED_RESPONSES, make_response=lambda response: response) == []
    assert grader.grade_one("The value is [0,9).", "(0,9)").reason == "no_answer"


def test_precision_cases_reach_the_math_verify_workers(grader):
    """The power / factorial / irrational rows are decided by the worker's exact rules, not a fast path."""
    rows = [row for row in TINY_AND_NEAR_EQUAL_NUMBERS if "!" in row[0] or "^" in row[0] or "\\sqrt" in row[0]]
    results = grader.grade([f"\\boxed{{{answer}}}" for _, answer, _ in rows], [gold for gold, _, _ in rows])
    assert {r.reason for r in results} <= {"math_verify", "not_equivalent"} and len(rows) >= 6


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


def test_every_gsm8k_answer_matches_itself(grader):
    """GSM8K train + test: every `#### N` scores 1 against its gold, as written ("1,600") and boxed."""
    problems = [p for split in ("train", "test")
                for p in load_math_dataset("gsm8k", str(data_file(f"gsm8k/{split}.jsonl")), split=split)]
    raw = [p.solution.rsplit("####", 1)[1].strip() for p in problems]  # e.g. "1,600", as written
    results = grader.grade([f"#### {r}" for r in raw], [p.answer for p in problems])
    assert len(problems) == 7473 + 1319 and all(g.score == 1.0 for g in results)
    boxed = grader.grade([f"\\boxed{{{r}}}" for r in raw], raw)
    assert all(g.score == 1.0 for g in boxed)


def test_every_math_gold_matches_its_own_solution():
    """All 12,498 MATH train + test golds (two solutions box nothing): each solution graded against
    its own boxed answer scores 1 in the calling process, and no gold normalises to nothing."""
    problems = [p for split in ("train", "test")
                for p in load_math_dataset("math", str(data_file(f"math/{split}.jsonl")), split=split)]
    fast = Grader(GraderConfig(use_math_verify=False))
    start = time.perf_counter()
    results = fast.grade([p.solution for p in problems], [p.answer for p in problems])
    elapsed = time.perf_counter() - start
    assert len(problems) == 12_498 and [p.answer for p, r in zip(problems, results) if r.score != 1.0] == []
    assert all(normalize_answer(p.answer) for p in problems)
    assert elapsed < 20.0  # about 1 s on one core


def test_math_assignment_golds_accept_the_value_and_reject_another_variable(grader):
    """The MATH test golds written `v = value` (21 of them): the bare value scores 1, the same
    value assigned to another variable scores 0."""
    golds = [p.answer for p in load_math_dataset("math", str(data_file("math/test.jsonl")))
             if re.match(r"[a-zA-Z]\s*=", p.answer)]
    values = [gold.split("=", 1)[1].strip() for gold in golds]
    renamed = [("v" if gold[0] == "w" else "w") + "=" + value for gold, value in zip(golds, values)]
    assert len(golds) == 21
    assert [r.score for r in grader.grade([f"\\boxed{{{v}}}" for v in values], golds)] == [1.0] * 21
    assert [r.score for r in grader.grade([f"\\boxed{{{v}}}" for v in renamed], golds)] == [0.0] * 21


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
