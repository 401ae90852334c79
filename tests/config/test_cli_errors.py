"""Every command line reports a bad input in one line on stderr with exit status 2 (`python -m
rltrain.eval`, `rltrain.rm_train`, `rltrain.plot`; rltrain/main.py: test_trainer_inputs.py), and
bounds the prompts it builds, with a note of what was cut."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from rltrain.data.prompts import CHARS_PER_TOKEN, bound_prompts
from rltrain.eval.cli import main as eval_main
from rltrain.models.tiny import TinyModelConfig, build_tiny, build_tiny_tokenizer, save_tiny
from rltrain.plot import main as plot_main
from rltrain.reward_training.cli import main as rm_main

GOOD = '{"question": "What is 2 + 2?", "answer": "#### 4"}\n'


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    model, tok = build_tiny(config=TinyModelConfig(hidden_size=64, intermediate_size=64, num_hidden_layers=1))
    return save_tiny(model, tok, tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def files(tmp_path):
    """Named data files and paths, each broken in one way."""
    (tmp_path / "afile").write_text("x")
    (tmp_path / "not_a_model").mkdir()
    (tmp_path / "good.jsonl").write_text(GOOD)
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "latin1.jsonl").write_bytes(GOOD.encode() + '{"question": "café?", "answer": "#### 1"}\n'.encode("latin-1"))
    (tmp_path / "broken.jsonl").write_text(GOOD + '{"question": "2+2?"\n')
    return tmp_path


def one_error_line(capsys) -> str:
    """The one line on stderr (besides transformers' own "Loading weights" progress bar)."""
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("Loading weights")]
    assert len(err) == 1, err
    return err[0]


def eval_args(model, data, out, *extra) -> list[str]:
    return ["--model", str(model), "--data", f"gsm8k={data}", "--out", str(out), "--no-progress", "--n-samples", "1",
            "--max-new-tokens", "4", "--grader-timeout", "1", *extra]


@pytest.mark.parametrize("case, expected", [
    ("missing model", "error: --model {d}/nope: no such file or directory"),
    ("not a model", "error: --model {d}/not_a_model: not a Hugging Face model folder (no config.json) nor a .gguf file"),
    ("missing data", "error: dataset file not found: {d}/nope.jsonl"),
    ("empty data", "error: {d}/empty.jsonl: no problems to use: it holds no records"),
    ("non-UTF-8 data", "error: {d}/latin1.jsonl:2: not UTF-8 text (byte 0xe9 at byte 18 of the line)"),
    ("malformed data", "error: {d}/broken.jsonl:2: not valid JSON (Expecting ',' delimiter)"),
    ("out under a file", "error: --out {d}/afile/eval: cannot make it: {d}/afile is a file, not a folder"),
    ("usage", "python -m rltrain.eval: error: argument --limit: must be >= 1, got 0 (see --help)"),
])
def test_eval_input_errors_are_one_line_before_the_model_loads(model_dir, files, monkeypatch, capsys, case, expected):
    import rltrain.models.loading

    def no_load(*_, **__):
        raise AssertionError("the model must not load")

    monkeypatch.setattr(rltrain.models.loading, "load_model_and_tokenizer", no_load)
    model, data, out, extra = model_dir, files / "good.jsonl", files / "eval", []
    if case == "missing model":
        model = files / "nope"
    elif case == "not a model":
        model = files / "not_a_model"
    elif case == "out under a file":
        out = files / "afile" / "eval"
    elif case == "usage":
        extra = ["--limit", "0"]
    else:
        data = files / {"missing data": "nope", "empty data": "empty", "non-UTF-8 data": "latin1",
                        "malformed data": "broken"}[case.split(" data")[0] + " data"].join(["", ".jsonl"])
    try:
        code = eval_main(eval_args(model, data, out, *extra))
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == 2
    assert one_error_line(capsys) == expected.format(d=files)


def test_eval_bounds_a_10_mb_prompt_with_a_note(model_dir, tmp_path, capsys):
    data = tmp_path / "huge.jsonl"
    data.write_text(json.dumps({"question": "x" * (10 << 20), "answer": "#### 1"}) + "\n" + GOOD)
    out = tmp_path / "eval"
    assert eval_main(eval_args(model_dir, data, out, "--max-prompt-tokens", "96")) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and re.fullmatch(rf"note: {tmp_path.name}/huge\.jsonl:1: prompt of \d{{8}} characters cut "
                                            r"to its last 96 tokens \(--max-prompt-tokens 96\)", notes[0]), err
    records = [json.loads(line) for line in (out / "samples_gsm8k.jsonl").read_text().splitlines()]
    assert len(records) == 4 and max(len(r["prompt"]) for r in records) <= 96 * CHARS_PER_TOKEN


def test_bound_prompts_keeps_short_prompts_and_the_end_of_long_ones():
    tok = build_tiny_tokenizer()
    texts = ["short prompt", "a" * 5000 + " the end"]
    kept, ids, cuts = bound_prompts(tok, texts, 16)
    assert kept[0] == texts[0] and ids[0] == tok(texts[0], add_special_tokens=False)["input_ids"]
    assert kept[1] == texts[1][-16 * CHARS_PER_TOKEN:] and len(ids[1]) == 16
    assert tok.decode(ids[1]).endswith(" the end")
    assert [(c.index, c.chars, c.tokens, c.kept_tokens) for c in cuts] == [(1, 5008, None, 16)]
    assert cuts[0].describe("p:2", "limit=16") == "p:2: prompt of 5008 characters cut to its last 16 tokens (limit=16)"


def test_rm_train_input_errors_are_one_line(model_dir, files, capsys):
    base = ["--kind", "orm", "--model", str(model_dir), "--no-progress", "--n-samples", "1", "--max-new-tokens", "4"]
    assert rm_main([*base, "--out", str(files / "afile" / "rm"), "--task", "arithmetic"]) == 2
    assert one_error_line(capsys) == f"error: --out {files}/afile/rm: cannot make it: {files}/afile is a file, not a folder"
    assert rm_main([*base, "--out", str(files / "rm"), "--data", f"gsm8k={files / 'latin1.jsonl'}"]) == 2
    assert one_error_line(capsys) == f"error: {files}/latin1.jsonl:2: not UTF-8 text (byte 0xe9 at byte 18 of the line)"
    not_a_model = ["--kind", "orm", "--model", str(files / "not_a_model"), "--out", str(files / "rm"), "--task",
                   "arithmetic", "--no-progress"]
    assert rm_main(not_a_model) == 2
    assert one_error_line(capsys).startswith("error: ")


def test_rm_train_bounds_prompts_with_a_note(model_dir, tmp_path, capsys):
    data = tmp_path / "huge.jsonl"
    data.write_text(json.dumps({"question": "x" * (1 << 20), "answer": "#### 1"}) + "\n" + GOOD)
    rc = rm_main(["--kind", "orm", "--model", str(model_dir), "--out", str(tmp_path / "rm"), "--data",
                  f"gsm8k={data}", "--n-samples", "1", "--max-new-tokens", "4", "--max-prompt-tokens", "96",
                  "--eval-frac", "0", "--no-progress"])
    assert rc == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and re.fullmatch(r"note: problem 0: prompt of \d+ characters cut to its last 96 tokens "
                                            r"\(--max-prompt-tokens 96\)", notes[0]), notes


def test_plot_input_errors_are_one_line(tmp_path, capsys):
    assert plot_main([str(tmp_path / "nope")]) == 2
    assert one_error_line(capsys) == f"error: no metrics.jsonl in {tmp_path}/nope"
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"iteration": 1, "kind": "train"}\n{"kind": "train"}\n')
    assert plot_main([str(run)]) == 2
    assert one_error_line(capsys) == (f"error: {run}/metrics.jsonl:2: not a metrics line (needs an int `iteration` "
                                      "and a str `kind`)")
    (tmp_path / "afile").write_text("x")
    (run / "metrics.jsonl").write_text('{"iteration": 1, "kind": "train", "success_rate": 0.5}\n')
    assert plot_main([str(run), "--out", str(tmp_path / "afile" / "c.png")]) == 2
    assert one_error_line(capsys) == (f"error: --out {tmp_path}/afile/c.png: its folder {tmp_path}/afile: exists and "
                                      "is not a folder")


@pytest.mark.slow
@pytest.mark.parametrize("module", ["rltrain.eval", "rltrain.rm_train", "rltrain.plot"])
def test_module_entry_points_exit_2_with_one_line(module, tmp_path):
    from trainer_runs import REPO, env

    args = {"rltrain.eval": ["--model", str(tmp_path / "nope"), "--data", "gsm8k=x.jsonl"],
            "rltrain.rm_train": ["--kind", "orm", "--model", str(tmp_path), "--out", str(tmp_path / "o")],
            "rltrain.plot": [str(tmp_path)]}[module]
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
