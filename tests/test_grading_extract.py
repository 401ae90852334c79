"""Final-answer extraction and the cheap normalisation / numeric fast paths."""
from fractions import Fraction

import pytest

from rltrain.grading import extract_answer, last_boxed
from rltrain.grading.normalize import normalize_answer, parse_number


@pytest.mark.parametrize("response, text, method", [
    ("so $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", "boxed"),
    ("\\boxed{1} then \\boxed{\\{1, \\{2\\}\\}}", "\\{1, \\{2\\}\\}", "boxed"),
    ("\\fbox{7}", "7", "boxed"),
    ("\\boxed 5.", "5.", "boxed"),
    ("\\boxed{3} and finally \\boxed{4", "3", "boxed"),
    ("Thus, the answer is $42$.", "42", "phrase"),
    ("Final Answer: The final answer is 7.5. I hope it is correct.", "7.5", "phrase"),
    ("To find the answer we add 3 and 4 to get 7", "7", "last_number"),  # no "is" / ":": not a phrase
    ("The answer: $\\frac{3}{4}$ apples.", "\\frac{3}{4}", "phrase"),
    ("3 apples + 4 = 7 apples\n#### 1,234", "1,234", "last_number"),
    ("it was -3.5 degrees", "-3.5", "last_number"),
])
def test_extract_answer(response, text, method):
    found = extract_answer(response)
    assert (found.text, found.method) == (text, method)


def test_no_answer_and_no_number_fallback():
    assert extract_answer("I do not know.") is None
    assert extract_answer("it is 12", number_fallback=False) is None
    assert extract_answer("\\boxed{unclosed 12") is None  # a broken box: no guessing from numbers
    assert extract_answer("\\boxed{}") is None


def test_last_boxed_is_linear_on_many_unclosed_boxes():
    text = "\\boxed{" * 20_000  # quadratic scanning would take minutes
    assert last_boxed(text) is None


@pytest.mark.parametrize("raw, normalized", [
    ("$\\dfrac{1}{2}$", "\\frac{1}{2}"),
    ("\\left( 1, 2 \\right)", "(1,2)"),
    ("5\\text{ cm}^2", "5"),
    ("1{,}000", "1000"),
    ("90^\\circ", "90"),
    ("\\text{Evelyn}", "Evelyn"),
    ("x = 5", "5"),
    ("2m", "2m"),  # a variable, not a unit
    ("1,-2", "1,-2"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
])
def test_normalize_answer(raw, normalized):
    assert normalize_answer(raw) == normalized


@pytest.mark.parametrize("text, value", [
    ("3", Fraction(3)), ("-0.25", Fraction(-1, 4)), ("3/4", Fraction(3, 4)), ("\\frac{6}{4}", Fraction(3, 2)),
    ("\\frac34", Fraction(3, 4)), ("-\\frac{1}{2}", Fraction(-1, 2)), (".5", Fraction(1, 2)),
    ("1/0", None), ("x", None), ("9^9^9^9", None), ("1e999999", None), ("9" * 100, None),
])
def test_parse_number_never_evaluates(text, value):
    assert parse_number(text) == value
