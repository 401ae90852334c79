"""Dataset loaders and ground-truth extraction: local JSONL formats and their errors."""
import json

import pytest
from shared_data import data_file

from rltrain.data import DatasetFormatError, load_math_dataset, parse_data_spec
from rltrain.data.ground_truth import gsm8k_final_answer, math_final_answer


def test_gsm8k_final_answer():
    assert gsm8k_final_answer("a\nb <<1+1=2>>2\n#### 1,600") == "1600"
    assert gsm8k_final_answer("#### -3") == "-3"
    with pytest.raises(ValueError, match="####"):
        gsm8k_final_answer("no marker")


def test_math_final_answer_takes_last_box_with_nested_braces():
    sol = "First $\\boxed{1}$, then $\\boxed{\\frac{\\sqrt{2}}{2}}$."
    assert math_final_answer(sol) == "\\frac{\\sqrt{2}}{2}"
    assert math_final_answer("so \\boxed{2} and \\boxed{3") == "2"  # an unclosed last box is skipped
    with pytest.raises(ValueError, match="boxed"):
        math_final_answer("no box here")


def test_shared_gsm8k_test_set():
    problems = load_math_dataset("gsm8k", str(data_file("gsm8k/test.jsonl")))
    assert len(problems) == 1319
    assert problems[0].answer == "18" and problems[0].uid == "gsm8k/test.jsonl:1"
    assert all(p.answer and "," not in p.answer for p in problems)


def test_shared_math_folder_and_split():
    data_file("math/train.jsonl")
    folder = str(data_file("math/test.jsonl").parent)
    test = load_math_dataset("math", folder, split="test")
    assert len(test) == 5000 and test[0].uid == "test/algebra/1.json"
    train = load_math_dataset("math", folder, split="train")  # two solutions box nothing: skipped
    assert len(train) == 7498
    with pytest.raises(DatasetFormatError, match=r"train\.jsonl:\d+"):
        load_math_dataset("math", folder, split="train", on_missing_answer="error")


def test_shared_math500_uses_answer_field():
    problems = load_math_dataset("math500", str(data_file("math500/test.jsonl")), limit=3)
    assert [p.answer for p in problems][:2] == ["\\left( 3, \\frac{\\pi}{2} \\right)", "p - q"]
    assert problems[0].solution is not None and problems[0].uid == "test/precalculus/807.json"


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        load_math_dataset("gsm8k", str(tmp_path / "nope.jsonl"))
    with pytest.raises(ValueError, match="unknown dataset"):
        load_math_dataset("mmlu", str(tmp_path))
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_data_spec("gsm8k")
    with pytest.raises(ValueError, match="unknown dataset"):
        parse_data_spec("svamp=x.jsonl")
    assert parse_data_spec("math500=a=b.jsonl") == ("math500", "a=b.jsonl")


@pytest.mark.parametrize("bad_line, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"question": "q"}', "'answer' is missing"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / "test.jsonl"
    good = json.dumps({"question": "q", "answer": "#### 1"})
    path.write_text(f"{good}\n\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=rf"test\.jsonl:3: .*{message}"):
        load_math_dataset("gsm8k", str(path))


def test_limit_and_blank_lines(tmp_path):
    path = tmp_path / "g.jsonl"
    rows = [json.dumps({"question": f"q{i}", "answer": f"#### {i}"}) for i in range(5)]
    path.write_text("\n".join(rows) + "\n\n", encoding="utf-8")
    assert [p.answer for p in load_math_dataset("gsm8k", str(path), limit=2)] == ["0", "1"]
    assert len(load_math_dataset("gsm8k", str(path))) == 5


def test_hub_source_without_datasets_package_is_a_clear_error():
    import importlib.util

    if importlib.util.find_spec("datasets") is not None:
        pytest.skip("`datasets` is installed; this test checks the error without it (no network in tests)")
    with pytest.raises(ImportError, match="pip install datasets"):
        load_math_dataset("gsm8k", "hub:openai/gsm8k@main")


def test_a_non_utf8_byte_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"question": "ok", "answer": "#### 1"}\n{"question": "caf\xe9?", "answer": "#### 2"}\n')
    with pytest.raises(DatasetFormatError, match=rf"^{path}:2: not UTF-8 text \(byte 0xe9 at byte 18 of the line\)$"):
        load_math_dataset("gsm8k", str(path))


def test_a_source_without_problems_is_refused_naming_it(tmp_path):
    from rltrain.errors import UserError

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DatasetFormatError, match=rf"^{empty}: no problems to use: it holds no records$") as info:
        load_math_dataset("gsm8k", str(empty))
    assert isinstance(info.value, UserError)  # the CLIs print it as one line, exit status 2
    unanswered = tmp_path / "unanswered.jsonl"
    unanswered.write_text('{"problem": "p", "solution": "no box"}\n')
    with pytest.raises(DatasetFormatError, match="every record lacks a usable final answer"):
        load_math_dataset("math", str(unanswered))
    assert load_math_dataset("math", str(unanswered), limit=0) == []
