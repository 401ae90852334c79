"""The exact number rule, number sequences, decimal rewriting and the single-variable rule."""
from fractions import Fraction

import pytest

from rltrain.grading.numbers import (PlainNumber, decimals_as_fractions, numbers_equal, plain_numbers_equal,
                                     read_number, read_sequence)
from rltrain.grading.variables import drop_assignment_variable


@pytest.mark.parametrize("text, value, places", [
    ("0.333333", Fraction(333333, 10**6), 6),  # 6 significant digits: may be rounded
    ("0.000000333333", Fraction(333333, 10**12), 12),
    ("100.000", Fraction(100), 3),
    ("0.33", Fraction(33, 100), None),  # fewer significant digits: exact
    ("0.0000003", Fraction(3, 10**7), None),
    ("1450000", Fraction(1450000), None),  # integers and fractions are exact
    ("\\frac{1}{3}", Fraction(1, 3), None),
    ("-2.5", Fraction(-5, 2), None),
])
def test_read_number_keeps_the_written_precision(text, value, places):
    assert read_number(text) == PlainNumber(value, places)


@pytest.mark.parametrize("gold, answer, equal", [
    # tiny numbers are never equal to each other or to 0
    ("\\frac{1}{3000000}", "\\frac{1}{4000000}", False), ("0", "\\frac{1}{4000000}", False),
    ("0.0000001", "0.0000002", False), ("\\frac{1}{3000000}", "0.0000003", False),
    ("\\frac{1}{3000000}", "0.000000333333", True), ("\\frac{1}{4000000}", "0.00000025", True),
    # near-equal numbers differ after the 6th decimal
    ("1450000", "1450000.0000001", False), ("3", "2.9999999", False), ("0.5", "0.5000001", False),
    ("\\frac{1}{3}", "0.3333333", True), ("\\frac{1}{3}", "0.333333", True), ("\\frac{2}{3}", "0.666667", True),
    ("\\frac{2}{3}", "0.666666", False),  # rounded, not truncated
    ("\\frac{1}{3}", "0.333", False), ("\\frac{1}{7}", "0.142857", True), ("\\frac{1}{7}", "0.142858", False),
    ("0.333333", "0.3333334", True),  # both decimals: the shorter one may be the rounded one
])
def test_numbers_equal_is_exact_or_a_rounded_decimal(gold, answer, equal):
    a, b = read_number(gold), read_number(answer)
    assert numbers_equal(a, b) is equal and numbers_equal(b, a) is equal


@pytest.mark.parametrize("gold, answer, verdict", [
    ("(1, 2)", "(2, 1)", False), ("(1, 2)", "(1, 2)", True), ("\\{1, 2\\}", "\\{2, 1\\}", True),
    ("1, -2", "-2, 1", True), ("(\\frac{1}{3}, 2)", "(0.333333, 2)", True),
    ("(\\frac{1}{3000000}, 1)", "(0.0000003, 1)", False), ("(1, \\frac{9}{2})", "(1, 4.5)", True),
    ("(1, 2)", "[1, 2)", None), ("(1, 2)", "(1, 2, 3)", None),  # different shapes: math-verify decides
    ("(1, x)", "(1, x)", None), ("5", "(5)", None),
])
def test_plain_number_sequences(gold, answer, verdict):
    assert plain_numbers_equal(gold, answer) is verdict


def test_read_sequence_needs_two_bare_elements():
    assert read_sequence("5") is None
    assert read_sequence("32, 349").items == (PlainNumber(Fraction(32)), PlainNumber(Fraction(349)))


@pytest.mark.parametrize("latex, rewritten", [
    ("0.25", "\\frac{25}{100}"), ("2.5x", "\\frac{25}{10}x"), ("x^0.5", "x^{\\frac{5}{10}}"),
    ("(1, 4.5]", "(1, \\frac{45}{10}]"), (".5", "\\frac{5}{10}"), ("0.0000003", "\\frac{3}{10000000}"),
    ("1.2.3", "1.2.3"), ("12", "12"),
])
def test_decimals_as_fractions(latex, rewritten):
    assert decimals_as_fractions(latex) == rewritten


@pytest.mark.parametrize("gold, answer, expected", [
    ("5", "x=5", ("5", "5")), ("3", "k=3", ("3", "3")), ("x=5", "5", ("5", "5")),
    ("\\frac{1}{67}", "x=\\frac{1}{67}", ("\\frac{1}{67}", "\\frac{1}{67}")),
    ("x=5", "y=5", ("x=5", "y=5")),  # two equations are never changed
    ("2x+4y-3=0", "y=-\\frac{1}{2}x+\\frac{3}{4}", ("2x+4y-3=0", "y=-\\frac{1}{2}x+\\frac{3}{4}")),
    ("5", "x=5=y", ("5", "x=5=y")), ("5", "xy=5", ("5", "xy=5")), ("x\\le5", "x=5", ("x\\le5", "5")),
])
def test_drop_assignment_variable(gold, answer, expected):
    assert drop_assignment_variable(gold, answer) == expected
