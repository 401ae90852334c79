"""Math-Shepherd and PRM800K readers on the shared samples, and clear errors for malformed lines."""
import json

import pytest
from shared_data import data_file

from rltrain.data import DatasetFormatError
from rltrain.models.tiny import build_tiny_tokenizer
from rltrain.reward_training.labelled_data import load_step_labelled
from rltrain.rewards.render import RenderConfig, render_steps
from rltrain.rewards.step_tag import StepTagTokens


def test_math_shepherd_samples_round_trip():
    path = data_file("math_shepherd/samples.jsonl")
    examples = load_step_labelled("math-shepherd", path)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(examples) == len(records) == 7
    for ex, rec in zip(examples, records):
        assert len(ex.steps) == len(ex.labels) == rec["input"].count("ки")
        assert ex.steps[0].startswith("Step 1:") and rec["input"].startswith(ex.prompt)
        pieces = rec["input"].split("ки")
        marks = ["+" if y == 1.0 else "-" for y in ex.labels]
        assert "".join(p + m for p, m in zip(pieces, marks + [""])) == rec["label"]
        # re-rendered with the step tag, the record's input comes back (up to whitespace at the tags)
        text = ex.prompt + " " + " ки\n".join(s.strip() for s in ex.steps) + " ки"
        assert text.split() == rec["input"].split()
    assert examples[0].labels == [1.0, 1.0, 1.0, 1.0, 0.0]


def test_math_shepherd_tags_land_where_the_labels_are():
    tok = build_tiny_tokenizer()
    tok.add_tokens([" ки"])
    ex = load_step_labelled("math-shepherd", data_file("math_shepherd/samples.jsonl"), limit=1)[0]
    tokens = StepTagTokens.resolve(tok)
    row = render_steps(tok, ex.prompt, ex.steps, RenderConfig.math_shepherd(), tokens.tag)
    assert [row.input_ids[p] for p in row.positions] == [tokens.tag] * len(ex.steps)
    assert row.input_ids.count(tokens.tag) == len(ex.steps)


def test_prm800k_samples():
    examples = load_step_labelled("prm800k", data_file("prm800k/samples.jsonl"))
    assert len(examples) == 6
    first = examples[0]
    assert first.prompt.startswith("Three pencils and a jumbo eraser")
    assert first.steps[1].startswith("We have $3p+e=1.24$")  # the human completion replaces the rejected ones
    assert first.labels == [1.0] * 6 and first.steps[-1].endswith("# Answer\n\n29")
    second = examples[1]  # found_error: ends at the first step rated -1
    assert second.labels[-1] == 0.0 and all(y == 1.0 for y in second.labels[:-1])
    assert all(s.endswith("\n\n") for e in examples for s in e.steps[:-1])
    neutral = load_step_labelled("prm800k", data_file("prm800k/samples.jsonl"), neutral=0.5)
    assert 0.5 in [y for e in neutral for y in e.labels]


@pytest.mark.parametrize("fmt, record, message", [
    ("math-shepherd", {"text": "x"}, "not a Math-Shepherd record"),
    ("math-shepherd", {"input": "a ки b ки", "label": "a + b"}, "label does not match|'label' does not match"),
    ("math-shepherd", {"input": "a ки", "label": "a ?"}, "expected '\\+' or '-'"),
    ("math-shepherd", {"input": "no tags", "label": "no tags"}, "no step tag"),
    ("prm800k", {"question": "q", "label": {}}, "not a PRM800K record"),
    ("prm800k", {"question": {"problem": "q"}, "label": {"steps": [{"completions": [{"text": "s", "rating": 7}],
                                                                    "chosen_completion": 0}]}}, "rating must be"),
    ("prm800k", {"question": {"problem": "q"}, "label": {"steps": [{"completions": "x"}]}}, "completions must be"),
])
def test_bad_lines_name_file_and_line(tmp_path, fmt, record, message):
    path = tmp_path / "data.jsonl"
    good = {"input": "q Step 1: a ки", "label": "q Step 1: a +"} if fmt == "math-shepherd" else \
        {"question": {"problem": "q"}, "label": {"steps": [{"completions": [{"text": "s", "rating": 1}],
                                                            "chosen_completion": 0}]}}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=message) as info:
        load_step_labelled(fmt, path)
    assert f"{path}:3" in str(info.value)
    path.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=f"{path}:2: not valid JSON"):
        load_step_labelled(fmt, path)


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        load_step_labelled("prm801k", tmp_path / "x.jsonl")
    with pytest.raises(FileNotFoundError):
        load_step_labelled("prm800k", tmp_path / "missing.jsonl")
