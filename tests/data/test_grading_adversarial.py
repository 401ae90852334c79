"""Adversarial responses score 0 within the time limit, and the worker pool survives them."""
import time

import pytest
from adversarial_text import ADVERSARIAL_SHAPES, best_of_three_s

from rltrain.grading import Grader, GraderConfig, TimeLimitedPool

TIMEOUT_S = 1.0
SLACK_S = 3.0  # process kill + replacement on a loaded 2-core machine


@pytest.fixture(scope="module")
def grader():
    with Grader(GraderConfig(timeout_s=TIMEOUT_S, workers=2, cache_size=0)) as g:  # every check hits the pool
        g.grade_one("\\boxed{\\sqrt{4}}", "2")  # start the pool outside the timed tests
        yield g


def _adversarial(tmp_marker: str) -> dict[str, str]:
    return {
        "power_tower": "Clearly \\boxed{9^{9^{9^{9}}}}",
        "power_tower_plain": "the result is 9^9^9^9",
        "nested_braces_1e6": "\\boxed{" + "{" * 10**6 + "1" + "}" * 10**6 + "}",
        "nested_braces_300": "\\boxed{" + "{" * 300 + "1" + "}" * 300 + "}",
        "nested_parens": "\\boxed{" + "(" * 80 + "1" + ")" * 80 + "}",
        "one_megabyte": "x" * (1 << 20) + "\\boxed{2}",
        "invalid_latex": "\\boxed{\\frac{}{}{}\\left(\\sqrt[}",
        "unclosed_box": "the answer is \\boxed{\\frac{1}{",
        "python_code": f"\\boxed{{__import__('os').system('touch {tmp_marker}')}}",
        "python_code_block": f"```python\nimport os; os.system('touch {tmp_marker}')\n```\n",
        "nul_bytes": "\x00\x00\\boxed{31}\x00",
        "no_answer": "I am not sure how to solve this problem.",
        "empty": "",
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", list(_adversarial("m")))
def test_adversarial_response_scores_zero_within_limit(grader, tmp_path, name):
    marker = tmp_path / "pwned"
    response = _adversarial(str(marker))[name]
    start = time.monotonic()
    result = grader.grade_one(response, "31")
    elapsed = time.monotonic() - start
    assert result.score == 0.0
    assert elapsed < TIMEOUT_S + SLACK_S
    assert not marker.exists()  # nothing was executed
    # the pool keeps working: a check that needs math-verify still succeeds
    assert grader.grade_one("\\boxed{\\sqrt{961}}", "31").reason == "math_verify"


def test_reasons_for_bounded_inputs(grader):
    cases = _adversarial("m")
    assert grader.grade_one(cases["one_megabyte"], "2").reason == "too_long"
    assert grader.grade_one(cases["nested_braces_1e6"], "1").reason == "too_long"
    assert grader.grade_one(cases["nul_bytes"], "31").reason == "nul_byte"
    assert grader.grade_one(cases["no_answer"], "31").reason == "no_answer"
    assert grader.grade_one("\\boxed{" + "1" * 2000 + "}", "1").reason == "answer_too_long"


@pytest.mark.parametrize("name", list(ADVERSARIAL_SHAPES))
def test_in_process_grading_is_linear(name):
    """A 100 KB response, and an answer and gold near the answer bound, grade in well under 0.2 s."""
    fast = Grader(GraderConfig(use_math_verify=False))
    text = ADVERSARIAL_SHAPES[name]
    long_answer = text[:fast.config.max_answer_chars - 10]
    responses, golds = [text, f"\\boxed{{{long_answer}}}"], [long_answer, long_answer + "1"]
    assert best_of_three_s(lambda: fast.grade(responses, golds)) < 0.2


@pytest.mark.slow
def test_timeout_in_a_batch_does_not_disturb_the_others(grader):
    responses = ["\\boxed{9^{9^{9^{9}}}}", "\\boxed{\\sqrt{961}}", "#### 31", "\\boxed{\\frac{62}{2}}"]
    start = time.monotonic()
    results = grader.grade(responses, ["31"] * 4)
    assert time.monotonic() - start < TIMEOUT_S + SLACK_S
    assert [r.score for r in results] == [0.0, 1.0, 1.0, 1.0]
    assert results[0].reason in ("timeout", "not_equivalent") or results[0].reason.startswith("error")


def test_pool_kills_hung_and_replaces_crashed_workers():
    with TimeLimitedPool("time:sleep", workers=2, timeout_s=0.3) as pool:
        results = pool.map([0.0, 30.0, 0.0, 0.0])
        assert [r.error for r in results] == [None, "timeout", None, None]
        assert pool.replacements == 1
        assert [r.error for r in pool.map([0.0] * 6)] == [None] * 6
    with TimeLimitedPool("os:_exit", workers=1, timeout_s=2.0) as pool:
        assert [r.error for r in pool.map([3, 4])] == ["crashed", "crashed"]
        assert pool.replacements == 2
    with TimeLimitedPool("math:sqrt", workers=2, timeout_s=2.0) as pool:
        results = pool.map([4.0, -1.0, 9.0])
        assert [r.value for r in results] == [2.0, None, 3.0]
        assert results[1].error == "error: ValueError"


def test_pool_arguments_and_broken_worker_function():
    with pytest.raises(ValueError, match="workers"):
        TimeLimitedPool("math:sqrt", workers=0)
    with pytest.raises(ValueError, match="timeout_s"):
        TimeLimitedPool("math:sqrt", timeout_s=0)
    pool = TimeLimitedPool("rltrain_no_such_module:fn", workers=1, timeout_s=1.0)
    with pytest.raises(RuntimeError, match="keep dying"):
        pool.map([1])
    pool.close()
    with pytest.raises(ValueError, match="closed"):
        pool.map([1])


def test_pool_replaces_a_worker_that_died_while_idle():
    with TimeLimitedPool("math:sqrt", workers=1, timeout_s=2.0) as pool:
        assert pool.map([4.0])[0].value == 2.0
        pool._workers[0].process.kill()
        pool._workers[0].process.join()
        assert [r.value for r in pool.map([9.0, 16.0])] == [3.0, 4.0]
        assert pool.replacements == 1
