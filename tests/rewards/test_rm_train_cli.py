"""rm_train end to end on a tiny model: rollout-engine labelling (ORM and Math-Shepherd PRM labels),
labelled data, checkpoints the scorers load, and clear errors."""
import json

import pytest
import torch
from shared_data import data_file

from rltrain.grading import Grader, GraderConfig
from rltrain.models.tiny import TinyModelConfig, build_tiny, save_tiny
from rltrain.rewards import build_scoring_batch, load_orm, load_prm
from rltrain.reward_training.auto_label import RolloutCompleter, Solution, auto_label_steps
from rltrain.reward_training.cli import main
from rltrain.rollout import HFRolloutEngine, SamplingParams

SMALL = TinyModelConfig(hidden_size=64, intermediate_size=64, num_hidden_layers=1)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    model, tok = build_tiny(config=SMALL)
    tok.add_tokens([" ки"])
    model.resize_token_embeddings(len(tok))
    return save_tiny(model, tok, tmp_path_factory.mktemp("tiny") / "model")


def test_rollout_engine_auto_labels(tiny_dir):
    from rltrain.models.tiny import load_tiny

    model, tok = load_tiny(tiny_dir)
    engine = HFRolloutEngine.from_tokenizer(model, tok)
    calls = []

    class Recording(RolloutCompleter):
        def complete(self, requests, m):
            calls.append(list(requests))
            texts = super().complete(requests, m)
            for (_, prefix), per in zip(requests, texts):
                assert len(per) == m and all(c.text.startswith("".join(prefix)) for c in per)
            return texts

    completer = Recording(engine, tok, SamplingParams(max_new_tokens=6, seed=0))
    solutions = [Solution("Start with 1. Add 2, then add 3.", "6", ["1 + 2 = 3\n\n", "3 + 3 = 6\n\n", "\\boxed{6}"]),
                 Solution("Start with 2. Add 2.", "4", ["2 + 2 = 5\n\n", "\\boxed{5}"])]
    with Grader(GraderConfig(use_math_verify=False)) as grader:
        hard = auto_label_steps(solutions, completer, grader, m=3)
        soft = auto_label_steps(solutions, completer, grader, m=3, soft=True)
    assert [len(c) for c in calls] == [3, 3]  # one request per non-final step prefix
    assert [e.labels[-1] for e in hard] == [1.0, 0.0]  # the final step is the solution's own grade
    for h, s in zip(hard, soft):
        assert len(h.labels) == len(h.steps)
        assert all(0.0 <= y <= 1.0 for y in s.labels)
        assert all(y in (0.0, 1.0) for y in h.labels)


def test_cli_orm_from_rollouts_and_scoring(tiny_dir, tmp_path, capsys):
    out = tmp_path / "orm"
    rc = main(["--kind", "orm", "--model", str(tiny_dir), "--out", str(out), "--task", "arithmetic",
               "--num-problems", "4", "--n-samples", "2", "--max-new-tokens", "8", "--lr", "1e-3",
               "--eval-frac", "0", "--no-progress"])
    assert rc == 0
    summary = json.loads((out / "rm_train.json").read_text())
    assert summary["examples"] == 8 and summary["train_rows"] == 8
    _, tok = build_tiny(config=SMALL)
    orm = load_orm(out, policy_tokenizer=tok)
    ids = torch.tensor([tok("1 + 2 = 3", add_special_tokens=False)["input_ids"]])
    batch = build_scoring_batch(["q"], ids, torch.ones_like(ids, dtype=torch.bool), [], tok)
    assert orm.score(batch).shape == (1,)


def test_cli_prm_from_rollout_auto_labels(tiny_dir, tmp_path):
    out = tmp_path / "prm"
    rc = main(["--kind", "prm", "--model", str(tiny_dir), "--out", str(out), "--task", "arithmetic",
               "--num-problems", "2", "--n-samples", "1", "--m-completions", "2", "--max-new-tokens", "8",
               "--soft-labels", "--eval-frac", "0", "--no-progress"])
    assert rc == 0
    assert load_prm(out).tag_id is None


@pytest.mark.parametrize("head", ["value", "step-tag"])
def test_cli_prm_on_math_shepherd_samples(tiny_dir, tmp_path, head):
    data = data_file("math_shepherd/samples.jsonl")
    out = tmp_path / head
    rc = main(["--kind", "prm", "--prm-head", head, "--model", str(tiny_dir), "--out", str(out),
               "--labelled", f"math-shepherd={data}", "--eval-frac", "0.3", "--no-progress"])
    assert rc == 0
    summary = json.loads((out / "rm_train.json").read_text())
    assert summary["examples"] == 7 and summary["held_out_rows"] == 2
    prm = load_prm(out)
    assert (prm.tag_id is not None) == (head == "step-tag")


def test_cli_prm_on_prm800k_samples(tiny_dir, tmp_path):
    data = data_file("prm800k/samples.jsonl")
    rc = main(["--kind", "prm", "--model", str(tiny_dir), "--out", str(tmp_path / "p"),
               "--labelled", f"prm800k={data}", "--eval-frac", "0", "--no-progress"])
    assert rc == 0


def test_cli_errors(tiny_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "q ки", "label": "q ?"}\n', encoding="utf-8")
    args = ["--kind", "prm", "--model", str(tiny_dir), "--out", str(tmp_path / "x"), "--no-progress"]
    assert main(args + ["--labelled", f"math-shepherd={bad}"]) == 2
    assert f"{bad}:1" in capsys.readouterr().err
    assert main(args + ["--labelled", f"shepherd={bad}"]) == 2
    assert "--labelled must be" in capsys.readouterr().err
    model, tok = build_tiny(config=SMALL)  # no " ки" token
    plain = save_tiny(model, tok, tmp_path / "plain")
    assert main(["--kind", "prm", "--prm-head", "step-tag", "--model", str(plain), "--out", str(tmp_path / "y"),
                 "--labelled", f"math-shepherd={bad}", "--no-progress"]) == 2
    assert "no single token for the step tag" in capsys.readouterr().err
