"""Tiny random reward-model checkpoints written in the published layouts: for the format tests, the
scoring benchmark (bench/bench_reward_scoring.py) and trying a format's config without a download.

- `write_qwen_prm`: Qwen2.5-Math-PRM: config.json with architectures ["Qwen2ForProcessRewardModel"]
  and an auto_map naming custom code (the modules it names are written as files that fail if
  anything imports them: no loader may run a checkpoint's code), `model.*` backbone tensors and
  the head `score.0.*` / `score.2.*`; the tokenizer should hold "<extra_0>" as an added special
  token and Qwen2.5's chat template (`as_qwen_prm_tokenizer`).
- `write_token_classifier` / `write_sequence_classifier`: transformers' own *ForTokenClassification
  (TRL's PRMTrainer output) and *ForSequenceClassification (Skywork-Reward-Llama: LlamaFor...,
  1 label) folders.
- `write_causal_lm`: a plain causal LM folder (implicit PRM and its reference; Math-Shepherd).
Each writer returns the folder and the in-memory model or tensors (the tests compute each format's
rule from them by hand). Sizes: `tiny_qwen2_config` (hidden 64, 2 layers) unless `size` says otherwise.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

STEP_SEPARATOR = "<extra_0>"
# Qwen2.5's chat template, its branch without tools (the PRM's usage never passes tools)
QWEN25_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nPlease reason step by step, and put your final answer within "
    "\\\\boxed{}.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if not (message.role == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
REMOTE_CODE_TRAP = 'raise RuntimeError("the checkpoint\'s own modeling code was executed")\n'


def as_qwen_prm_tokenizer(tok):
    """The tokenizer with the PRM's separator as an added special token and Qwen2.5's chat template."""
    tok.add_special_tokens({"additional_special_tokens": [STEP_SEPARATOR]}, replace_extra_special_tokens=False)
    tok.chat_template = QWEN25_CHAT_TEMPLATE
    return tok


TINY = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1)


def tiny_qwen2_config(vocab_size: int, size: dict | None = None, **extra):
    from transformers import Qwen2Config

    return Qwen2Config(vocab_size=vocab_size, max_position_embeddings=2048, tie_word_embeddings=False,
                       **(size or TINY), **extra)


def write_qwen_prm(folder: Path, tokenizer, seed: int = 0,
                   size: dict | None = None) -> tuple[Path, dict[str, torch.Tensor], object]:
    """(folder, the checkpoint's tensors by name, the Qwen2Config)."""
    from safetensors.torch import save_file
    from transformers import Qwen2Model

    torch.manual_seed(seed)
    config = tiny_qwen2_config(len(tokenizer), size, pad_token_id=tokenizer.pad_token_id)
    backbone = Qwen2Model(config)
    hidden = config.hidden_size
    tensors = {f"model.{k}": v.detach().clone().contiguous() for k, v in backbone.state_dict().items()}
    tensors.update({"score.0.weight": torch.randn(hidden, hidden) / hidden ** 0.5, "score.0.bias": torch.randn(hidden) * 0.1,
                    "score.2.weight": torch.randn(2, hidden) / hidden ** 0.5, "score.2.bias": torch.randn(2) * 0.1})
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    fields = config.to_dict()
    fields.update(architectures=["Qwen2ForProcessRewardModel"], model_type="qwen2",
                  auto_map={"AutoConfig": "configuration_qwen2_rm.Qwen2RMConfig",
                            "AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"})
    (folder / "config.json").write_text(json.dumps(fields, indent=2), encoding="utf-8")
    for name in ("configuration_qwen2_rm.py", "modeling_qwen2_rm.py"):
        (folder / name).write_text(REMOTE_CODE_TRAP, encoding="utf-8")
    tokenizer.save_pretrained(folder)
    return folder, tensors, config


def write_token_classifier(folder: Path, tokenizer, num_labels: int = 2, seed: int = 0, size: dict | None = None):
    """(folder, model): Qwen2ForTokenClassification, TRL's PRMTrainer layout."""
    from transformers import Qwen2ForTokenClassification

    torch.manual_seed(seed)
    config = tiny_qwen2_config(len(tokenizer), size, num_labels=num_labels, pad_token_id=tokenizer.pad_token_id)
    model = Qwen2ForTokenClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model


def write_sequence_classifier(folder: Path, tokenizer, num_labels: int = 1, seed: int = 0, size: dict | None = None):
    """(folder, model): LlamaForSequenceClassification (Skywork-Reward-Llama-3.1's architecture)."""
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=2048, num_labels=num_labels,
                         pad_token_id=tokenizer.pad_token_id, **(size or TINY))
    model = LlamaForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model


def write_causal_lm(folder: Path, tokenizer, seed: int = 0, size: dict | None = None):
    """(folder, model): a Qwen2ForCausalLM."""
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(tiny_qwen2_config(len(tokenizer), size, pad_token_id=tokenizer.pad_token_id)).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model
