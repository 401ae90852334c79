"""Final-answer extraction, the standalone-number fallback, normalisation, and their linear time."""
from fractions import Fraction

import pytest
from adversarial_text import ADVERSARIAL_SHAPES, best_of_three_s

from rltrain.grading import extract_answer, last_boxed
from rltrain.grading.normalize import normalize_answer
from rltrain.grading.numbers import parse_number


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


@pytest.mark.parametrize("response, number", [
    ("so she has 18 apples.", "18"), ("The total is $1,234.", "1,234"), ("#### 1,234", "1,234"),
    ("it was -3.5 degrees", "-3.5"), ("The probability is 2/3.", "2/3"), ("**Answer: 42**", "42"),
    ("x = -7", "-7"), ("Answer:5", "5"), ("costs \\$18.50", "18.50"), ("is 12 \\text{ cm}", "12"),
    ("50\\%", "50"), ("90^\\circ", "90"), ("answer (5).", "5"), ("$$ 9 $$", "9"),
])
def test_fallback_takes_a_standalone_last_number(response, number):
    found = extract_answer(response)
    assert (found.text, found.method) == (number, "last_number")


@pytest.mark.parametrize("response", [
    "The value is [0,9).", "(0, 9)", "so x = \\frac{1+\\sqrt{5}}{2}", "\\frac12",  # pieces of fractions, intervals
    "1,2,3", "1, 2, 3, ...", "32, 349", "is 0,111", "1 000",  # lists, not thousands
    "2^{10}.", "x_1", "a^2", "AZYUK2A", "5x", "5\\sqrt{2}", "f(3)",  # exponents, indices, next to letters
    "8-3", "8 - 3", "3 + 4", "3 \\times 4", "3*4", "5 + x", "5 \\cdot x", "\\sqrt 5", "3:4",  # operands
    "(9+1)", "x <= 2", "x != 5", "x > 5", "-x >= -1",  # sums and relations
    "1/2/3", "x/2", "3.1.4",
])
def test_fallback_never_takes_a_piece_of_an_expression(response):
    assert extract_answer(response) is None


@pytest.mark.parametrize("name", list(ADVERSARIAL_SHAPES))
def test_extraction_and_normalisation_are_linear(name):
    text = ADVERSARIAL_SHAPES[name]
    assert best_of_three_s(lambda: (extract_answer(text), normalize_answer(text))) < 0.2


def test_last_boxed_skips_unclosed_boxes_in_linear_time():
    text = "\\boxed{7} " + "\\boxed{" * 43_000  # 300 KB: about 2 s when each box rescans its prefix
    assert last_boxed(text) == "7"
    assert best_of_three_s(lambda: last_boxed(text)) < 0.2


@pytest.mark.parametrize("raw, normalized", [
    ("$\\dfrac{1}{2}$", "\\frac{1}{2}"),
    ("\\left( 1, 2 \\right)", "(1, 2)"),  # list commas are written ", "
    ("5\\text{ cm}^2", "5"),
    ("1{,}000", "1000"),
    ("90^\\circ", "90"),
    ("\\text{Evelyn}", "Evelyn"),
    ("x = 5", "x=5"),  # variables are kept (variables.py decides per pair)
    ("2m", "2m"),  # a variable, not a unit
    ("1,-2", "1, -2"),
    ("[-36,104]", "[-36, 104]"), ("[-36, 104]", "[-36, 104]"),  # list commas never fuse elements
    ("32, 349", "32, 349"), ("(100,101)", "(100, 101)"), ("1,2,3", "1, 2, 3"),
    ("1,000", "1000"), ("\\$12,345.5", "12345.5"), ("-1,000,000", "-1000000"),  # standalone numbers
    ("10,\\!000", "10000"), ("\\{1{,}000, 2\\}", "\\{1000, 2\\}"), ("0,111", "0, 111"),
    ("\\text{M}", "M"), ("\\text{m}", "m"), ("\\text{ cm}", "cm"),  # a letter is not a unit on its own
    ("5\\text{ m}", "5"), ("\\frac{1}{2}\\text{ cm}", "\\frac{1}{2}"), ("2\\pi\\text{ cm}", "2\\pi"),
    ("\\%", "\\%"), ("28 percent", "28"),
    ("\\pi r^2", "\\pi r^2"), ("\\leftarrow", "\\leftarrow"),
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
