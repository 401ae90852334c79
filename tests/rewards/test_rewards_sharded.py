"""Reward models sharded with FSDP2 over 2 CPU ranks (torchrun, gloo) score exactly as unsharded ones,
also when the ranks have different numbers of rows and micro-batches (tests/support/rm_sharded_worker.py)."""
from __future__ import annotations

import pytest

import json
import subprocess
import sys
from pathlib import Path

from trainer_runs import REPO, env, free_port

from rltrain.models.tiny import build_tiny_tokenizer
from tiny_checkpoints import (as_qwen_prm_tokenizer, write_causal_lm, write_qwen_prm,
                                              write_sequence_classifier)

pytestmark = pytest.mark.slow  # starts processes or trains models

WORKER = Path(__file__).resolve().parents[1] / "support" / "rm_sharded_worker.py"


def test_sharded_reward_models_match_unsharded_ones(tmp_path):
    tok = as_qwen_prm_tokenizer(build_tiny_tokenizer())
    qwen, _, _ = write_qwen_prm(tmp_path / "qwen", tok)
    lm, _ = write_causal_lm(tmp_path / "lm", tok, seed=1)
    ref, _ = write_causal_lm(tmp_path / "ref", tok, seed=2)
    orm, _ = write_sequence_classifier(tmp_path / "orm", tok)
    out = tmp_path / "result.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
           str(WORKER), str(out), str(qwen), str(lm), str(ref), str(orm)]
    proc = subprocess.run(cmd, cwd=REPO, env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    results = json.loads(out.read_text())
    assert set(results) == {"qwen-prm", "implicit", "sequence-classification"}
    for name, r in results.items():
        assert r["same"], name
        assert r["collective"] and r["sharded_fraction"] == 1.0, name
        assert r["nonzero"], name
    assert results["qwen-prm"]["shape"] == [3, 3] and results["sequence-classification"]["shape"] == [3]
