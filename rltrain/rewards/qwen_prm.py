"""Qwen2.5-Math-PRM layout (Qwen/Qwen2.5-Math-PRM-7B, -72B, Qwen2.5-Math-7B-PRM800K), loaded without
executing the checkpoint's own code.

Checkpoint: config.json with architectures ["Qwen2ForProcessRewardModel"] (auto_map names the
repository's custom modeling code, which is never imported here), a Qwen2 backbone stored as
`model.*` tensors, and a score head stored as
    score.0.weight [H, H], score.0.bias [H]     Linear(H, H)
    (score.1 = ReLU, no tensors)
    score.2.weight [2, H], score.2.bias [2]     Linear(H, num_labels = 2)
(the names and biases as vLLM's port of the model loads them: vllm/model_executor/models/qwen2_rm.py,
`Qwen2RewardBaseModel.score`; any `lm_head.*` tensor is ignored). The backbone is built by
transformers as `Qwen2Model` from config.json's fields; the head tensors are read by name from the
safetensors file(s).

Input format (the model card's usage): chat template with
    system    "Please reason step by step, and put your final answer within \\boxed{}."
    user      the question
    assistant "<extra_0>".join(steps) + "<extra_0>"      (steps: the response split at blank lines)
encoded without extra special tokens; the score of step k is the softmax probability of label 1
at the k-th "<extra_0>" token = sigmoid(logit_1 - logit_0). Here each step is the policy's step
text stripped of surrounding whitespace (its trailing "\\n\\n" delimiter included).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import nn

from rltrain.rewards.render import Row
from rltrain.rewards.renderers import chat_text, encode_text
from rltrain.rewards.step_tag import MissingTokenError
from rltrain.rewards.token_model import TokenScoreModel

SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."
STEP_SEPARATOR = "<extra_0>"
HEAD_TENSORS = ("score.0.weight", "score.0.bias", "score.2.weight", "score.2.bias")


class QwenPRMHead(nn.Module):
    """Linear(H, H) -> ReLU -> Linear(H, num_labels), held and computed in float32:
    hidden [..., H] -> logits [..., num_labels]."""

    def __init__(self, hidden_size: int, num_labels: int = 2):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(hidden_size, hidden_size, dtype=torch.float32), nn.ReLU(),
                                   nn.Linear(hidden_size, num_labels, dtype=torch.float32))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.score(hidden.float())


class QwenProcessRewardModel(TokenScoreModel):
    """Qwen2Model backbone + `QwenPRMHead`; forward -> [B, T] float32 logit_1 - logit_0."""

    def __init__(self, backbone: nn.Module, head: QwenPRMHead):
        super().__init__()
        self.backbone = backbone
        self.head = head

    @property
    def config(self):
        return self.backbone.config

    def shard_units(self) -> list[nn.Module]:
        return [self.head, self]

    def label_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                     **packing) -> torch.Tensor:
        """[B, T, 2] float32 head logits at every token."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                               **packing).last_hidden_state
        return self.head(hidden)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **packing) -> torch.Tensor:
        logits = self.label_logits(input_ids, attention_mask, **packing)
        return logits[..., 1] - logits[..., 0]

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, dtype: torch.dtype, device: str | torch.device = "cpu",
                        attn_implementation: str = "sdpa") -> "QwenProcessRewardModel":
        from transformers import Qwen2Config, Qwen2Model

        folder = Path(folder)
        fields = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        num_labels = len(fields.get("id2label") or {}) or int(fields.get("num_labels", 2))
        if num_labels != 2:
            raise ValueError(f"{folder}: a Qwen2.5-Math-PRM head has 2 labels, config.json says {num_labels}")
        config = Qwen2Config.from_dict({k: v for k, v in fields.items() if k not in ("auto_map", "architectures")})
        with _quiet_load_report():  # the head's tensors are "unexpected" for a bare Qwen2Model: read below
            backbone = Qwen2Model.from_pretrained(folder, config=config, dtype=dtype, local_files_only=True,
                                                  attn_implementation=attn_implementation)
        head = QwenPRMHead(config.hidden_size, num_labels)
        head.load_state_dict({k: v.float() for k, v in read_tensors(folder, HEAD_TENSORS).items()})
        return cls(backbone, head).to(device).eval()


@contextmanager
def _quiet_load_report() -> Iterator[None]:
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


def read_tensors(folder: Path, names: Sequence[str]) -> dict[str, torch.Tensor]:
    """Tensors by name from model.safetensors or the shards of model.safetensors.index.json."""
    from safetensors import safe_open

    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    elif (folder / "model.safetensors").is_file():
        weight_map = {name: "model.safetensors" for name in names}
    else:
        raise FileNotFoundError(f"{folder}: no model.safetensors or model.safetensors.index.json")
    missing = [n for n in names if n not in weight_map]
    out: dict[str, torch.Tensor] = {}
    for file in sorted({weight_map[n] for n in names if n in weight_map}):
        with safe_open(str(folder / file), framework="pt") as f:
            present = set(f.keys())
            for n in names:
                if weight_map.get(n) == file:
                    if n in present:
                        out[n] = f.get_tensor(n)
                    else:
                        missing.append(n)
    if missing:
        raise ValueError(f"{folder}: no tensor {', '.join(sorted(missing))} (a Qwen2.5-Math-PRM checkpoint stores its "
                         f"head as {', '.join(HEAD_TENSORS)})")
    return out


def separator_id(tokenizer, token: str = STEP_SEPARATOR) -> int:
    """The id of the step separator, which must encode as exactly that one token."""
    ids = tokenizer.encode(token, add_special_tokens=False)
    if len(ids) != 1:
        raise MissingTokenError(f"the PRM tokenizer has no single token for the step separator {token!r} "
                                f"(it encodes as {ids}); a Qwen2.5-Math-PRM tokenizer holds it as an added token")
    return int(ids[0])


@dataclass(frozen=True)
class QwenPRMRenderer:
    """system + user question + assistant steps joined and ended by the separator, through the chat
    template; step k is read at the k-th separator token."""

    sep_id: int
    separator: str = STEP_SEPARATOR
    system: str = SYSTEM_PROMPT

    def steps_row(self, tokenizer, prompt: str, question: str, steps: Sequence[str]) -> Row:
        clean = [s.replace(self.separator, "").strip() for s in steps]
        messages = [{"role": "system", "content": self.system},
                    {"role": "user", "content": question.replace(self.separator, "")},
                    {"role": "assistant", "content": "".join(s + self.separator for s in clean)}]
        ids = encode_text(tokenizer, chat_text(tokenizer, messages))
        positions = [i for i, t in enumerate(ids) if t == self.sep_id]
        if len(positions) != len(steps):
            raise ValueError(f"Qwen PRM rendering: {len(positions)} separator tokens for {len(steps)} steps (the "
                             "chat template or the tokenizer altered the separator)")
        return Row(ids, positions)


def scorer_parts(folder: Path, tokenizer, role: str, options):
    """The `qwen-prm` format: Qwen2Model + the score head, steps joined by the separator token."""
    from rltrain.rewards.loading import ScorerParts

    model = QwenProcessRewardModel.from_pretrained(folder, dtype=options.dtype, device=options.device,
                                                   attn_implementation=options.attn_implementation)
    return ScorerParts(model, QwenPRMRenderer(separator_id(tokenizer)))
