"""Load a causal LM and its tokenizer from a local Hugging Face model folder or a GGUF file."""
from __future__ import annotations

from pathlib import Path

import torch


def load_model_and_tokenizer(path: str | Path, *, dtype: torch.dtype = torch.float32,
                             device: str | torch.device = "cpu"):
    """(model in eval mode, tokenizer) from a model folder or a `.gguf` file (needs `gguf`).

    GGUF weights are de-quantised by transformers (`gguf_file=`) into `dtype`.
    Local files only: nothing is downloaded.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = Path(path)
    if p.is_file() and p.suffix == ".gguf":
        folder, extra = p.parent, {"gguf_file": p.name}
    elif p.is_dir():
        folder, extra = p, {}
    else:
        raise FileNotFoundError(f"model not found: {p} (expected a model folder or a .gguf file)")
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **extra)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype, **extra)
    return model.to(device).eval(), tokenizer
