"""The trainer's inputs on the real-model path (subprocesses): bad data files are one line and exit
status 2 before any model loads (also under torchrun), a 10 MB question is cut with a note, and a
run whose batches carry no learning signal says so once."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from trainer_runs import MAIN, REPO, env, free_port, metrics

RECIPE = REPO / "configs" / "gsm8k_qwen2.5_math_1.5b_prm.yaml"
QUESTION = '{{"question": "{q}", "answer": "Add them.\\n#### {a}"}}\n'


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    from rltrain.models.tiny import TinyModelConfig, build_tiny, save_tiny

    model, tok = build_tiny(config=TinyModelConfig(hidden_size=64, intermediate_size=64, num_hidden_layers=1))
    return save_tiny(model, tok, tmp_path_factory.mktemp("policy") / "policy")


def gsm8k_folder(root, train_lines: list[str], test_lines: int = 2):
    folder = root / "gsm8k"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(train_lines), encoding="utf-8")
    (folder / "test.jsonl").write_text("".join(QUESTION.format(q=f"What is {i} + 1?", a=i + 1)
                                               for i in range(test_lines)), encoding="utf-8")
    return folder


def args(policy, data, out, *overrides: str) -> list[str]:
    return ["--config", str(RECIPE), f"model.policy={policy}", "model.dtype=float32", "reward.prm=none",
            "rollout.engine=builtin", f"data.source={data}", f"run.out_dir={out}", "run.iterations=2",
            "run.eval_problems=2", "run.progress=false", "run.tensorboard=false", "warmup.steps=0",
            "data.max_prompt_tokens=96", "rollout.prompts=4", "rollout.n=2", "rollout.max_new_tokens=8",
            "ppo.mini_batches=1", *overrides]


def run(cmd: list[str], timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_huge_question_is_cut_and_a_run_without_signal_warns_once(policy, tmp_path):
    """GSM8K with a random tiny policy and no PRM: every response fails, every reward and (with the
    zero-initialised value head) every advantage is exactly 0, so the update does nothing."""
    huge = "x" * (10 << 20)
    lines = [QUESTION.format(q=f"What is {i} + 2?", a=i + 2) for i in range(3)] + [QUESTION.format(q=huge, a=1)]
    data = gsm8k_folder(tmp_path, lines)
    out = tmp_path / "run"
    proc = run([sys.executable, str(MAIN), *args(policy, data, out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    notes = [line for line in proc.stderr.splitlines() if line.startswith("[rltrain] note:")]
    assert len(notes) == 1, proc.stderr[-3000:]  # once, though the problem is used again at iteration 2
    cut = re.fullmatch(r"\[rltrain\] note: gsm8k/train\.jsonl:4: prompt of (\d+) characters cut to its last 96 "
                       r"tokens \(data\.max_prompt_tokens=96\)", notes[0])
    assert cut and int(cut.group(1)) > len(huge), notes[0]  # the question and the chat template around it
    warnings = [line for line in proc.stderr.splitlines() if "no learning signal" in line]
    assert len(warnings) == 1, proc.stderr[-3000:]
    assert warnings[0].startswith("[rltrain] warning: no learning signal at iteration 1: all 8 responses got the "
                                  "same reward 0 and every advantage is 0, so the losses, the gradients and the "
                                  "update are exactly 0 (success_rate 0.000; 1 of the 1 iterations this process ran")
    assert "2 of the 2 iterations this process ran carried no learning signal" in proc.stdout
    assert json.loads((out / "summary.json").read_text())["iterations_without_signal"] == 2
    assert all(r["success_rate"] == 0 and r["policy_loss"] == 0 for r in metrics(out))


BAD_LINES = {
    "not UTF-8": (b'{"question": "caf\xe9", "answer": "#### 1"}\n', "not UTF-8 text (byte 0xe9 at byte 18 of the line)"),
    "not JSON": (b'{"question": "2+2?", "answer": \n', "not valid JSON (Expecting value)"),
    "no question": (b'{"answer": "#### 4"}\n', "field 'question' is missing or not a string"),
}


@pytest.mark.parametrize("bad", BAD_LINES)
def test_a_bad_data_line_is_one_line_before_any_model_loads(policy, tmp_path, bad):
    line, what = BAD_LINES[bad]
    data = gsm8k_folder(tmp_path, [QUESTION.format(q="What is 2 + 2?", a=4)])
    with open(data / "train.jsonl", "ab") as f:
        f.write(line)
    proc = run([sys.executable, str(MAIN), *args(policy, data, tmp_path / "run")])
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"rltrain: {data}/train.jsonl:2: {what}"]
    assert not (tmp_path / "run").exists()  # nothing written, no model built


@pytest.mark.slow
def test_data_errors_under_torchrun_and_the_launcher(policy, tmp_path):
    line, what = BAD_LINES["not UTF-8"]
    data = gsm8k_folder(tmp_path, [QUESTION.format(q="What is 2 + 2?", a=4)])
    with open(data / "train.jsonl", "ab") as f:
        f.write(line)
    message = f"rltrain: {data}/train.jsonl:2: {what}"
    launcher = run([sys.executable, "-m", "rltrain.launch", "--nproc_per_node=2", f"--master_port={free_port()}",
                    str(MAIN), *args(policy, data, tmp_path / "run")])
    assert launcher.returncode == 2
    assert launcher.stderr.splitlines() == [message]  # checked before any worker starts
    torchrun = run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                    f"--master_port={free_port()}", str(MAIN), *args(policy, data, tmp_path / "run")])
    assert torchrun.returncode == 1  # torchrun's own status after its failure summary
    lines = torchrun.stderr.splitlines()
    assert lines.count(message) == 1  # printed by local rank 0 only
    assert f"  traceback : {message}" in lines  # the root cause of torchrun's summary
    assert "Traceback (most recent call last):\n  File \"" + str(MAIN) not in torchrun.stderr


def test_out_dir_under_a_file_is_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    proc = run([sys.executable, str(MAIN), f"run.out_dir={afile}/run"])
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"rltrain: config key `run.out_dir` = '{afile}/run': cannot make it: "
                                        f"{afile} is a file, not a folder"]
