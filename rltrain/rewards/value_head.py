"""A scalar value head on a transformer backbone: ORM, value-head PRM and the PPO critic.

    model = ValueHeadModel.from_backbone("path/to/causal-lm")    # fresh head on a pretrained body
    z = model(input_ids, attention_mask)                          # [B, T] float32, one logit per token
    model.save_pretrained("ckpt")    # backbone in HF format + value_head.safetensors + value_head.json
    model = ValueHeadModel.from_pretrained("ckpt")                # MissingValueHeadError without a head

The backbone is the causal LM's base model (`AutoModel`: e.g. `Qwen2Model`, no lm_head), so a
checkpoint folder is an ordinary HF model folder plus two small files; any causal-LM folder is
a valid `from_backbone` source. The head is `Linear(hidden, 1)` kept in float32 whatever the
backbone dtype. Reward models read sigmoid(z) (at the last token: ORM; at step ends: PRM);
the critic reads z itself as V_t.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rltrain.config.reward_formats import VALUE_HEAD_FILE
from rltrain.rewards.token_model import TokenScoreModel

HEAD_WEIGHTS = VALUE_HEAD_FILE
HEAD_CONFIG = "value_head.json"
FORMAT_VERSION = 1


class MissingValueHeadError(ValueError):
    """A checkpoint folder without `value_head.safetensors` was loaded as a value-head model."""


def resolve_model_path(path: str | Path, *, allow_download: bool = False) -> Path:
    """A local model folder; a Hub id is fetched (snapshot) only when `allow_download` is set."""
    p = Path(path)
    if p.is_dir():
        return p
    if not allow_download:
        raise FileNotFoundError(f"model folder not found: {p} (to fetch a Hugging Face Hub id, allow downloads: "
                                "allow_download=True; the trainer's model.allow_download / reward.allow_download=true; "
                                "python -m rltrain.rm_train --allow-download)")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(str(path)))


def default_dtype(device: str | torch.device) -> torch.dtype:
    """bfloat16 on CUDA, float32 elsewhere."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


class ValueHead(nn.Module):
    """hidden [..., H] -> [...] float32 logits: `Linear(H, 1)` computed in float32."""

    def __init__(self, hidden_size: int, *, init_std: float | None = None):
        super().__init__()
        self.linear = nn.Linear(hidden_size, 1, dtype=torch.float32)
        std = init_std if init_std is not None else 1.0 / (hidden_size + 1) ** 0.5
        nn.init.normal_(self.linear.weight, std=std)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden.float()).squeeze(-1)


class ValueHeadModel(TokenScoreModel):
    """backbone (HF base model returning `last_hidden_state`) + `ValueHead`.

    forward(input_ids [B, T], attention_mask [B, T]) -> [B, T] float32 logits (pre-sigmoid).
    `metadata` (JSON-ready dict) is saved in value_head.json, e.g. {"role": "orm"}.
    """

    def __init__(self, backbone: nn.Module, head: ValueHead | None = None, *,
                 metadata: dict[str, Any] | None = None):
        super().__init__()
        hidden = backbone.config.hidden_size
        self.backbone = backbone
        self.head = head if head is not None else ValueHead(hidden).to(next(backbone.parameters()).device)
        self.metadata = dict(metadata or {})

    @property
    def config(self):
        return self.backbone.config

    def shard_units(self) -> list[nn.Module]:
        return [self.head, self]

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      **packing) -> torch.Tensor:
        """[B, T, H] last hidden states of the backbone."""
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, **packing)
        return out.last_hidden_state

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **packing) -> torch.Tensor:
        return self.head(self.hidden_states(input_ids, attention_mask, **packing))

    @classmethod
    def from_causal_lm(cls, lm: nn.Module, *, metadata: dict[str, Any] | None = None) -> "ValueHeadModel":
        """Share the base model of an in-memory causal LM (e.g. the policy copy for a critic)."""
        base = getattr(lm, "base_model", lm)
        if base is lm:
            raise ValueError(f"ValueHeadModel.from_causal_lm: {type(lm).__name__} has no separate base model")
        return cls(base, metadata=metadata)

    @classmethod
    def from_backbone(cls, path: str | Path, *, dtype: torch.dtype | None = None, device: str | torch.device = "cpu",
                      allow_download: bool = False, metadata: dict[str, Any] | None = None) -> "ValueHeadModel":
        """A new, randomly initialised head on the base model of any HF model folder."""
        from transformers import AutoModel

        folder = resolve_model_path(path, allow_download=allow_download)
        backbone = AutoModel.from_pretrained(folder, dtype=dtype or default_dtype(device), local_files_only=True)
        return cls(backbone.to(device), metadata=metadata)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, dtype: torch.dtype | None = None,
                        device: str | torch.device = "cpu", allow_download: bool = False) -> "ValueHeadModel":
        """Load a folder written by `save_pretrained` (eval mode)."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        folder = resolve_model_path(path, allow_download=allow_download)
        if not (folder / HEAD_WEIGHTS).is_file():
            raise MissingValueHeadError(
                f"{folder} has no value head ({HEAD_WEIGHTS} is missing): it is a plain model, not an ORM / "
                "value-head PRM / critic checkpoint; start a head with ValueHeadModel.from_backbone(...) "
                "or load it as a step-tag PRM")
        meta = read_head_config(folder)
        backbone = AutoModel.from_pretrained(folder, dtype=dtype or default_dtype(device), local_files_only=True)
        state = load_file(str(folder / HEAD_WEIGHTS))
        head = ValueHead(backbone.config.hidden_size)
        try:
            head.linear.load_state_dict({"weight": state["weight"], "bias": state["bias"]})
        except (KeyError, RuntimeError) as exc:
            raise MissingValueHeadError(f"{folder / HEAD_WEIGHTS}: not a value head for hidden size "
                                        f"{backbone.config.hidden_size} ({exc})") from None
        model = cls(backbone, head, metadata=meta.get("metadata"))
        return model.to(device).eval()

    def save_pretrained(self, path: str | Path, tokenizer=None) -> Path:
        """Write backbone (HF format), head weights and head config (and the tokenizer, if given)."""
        from safetensors.torch import save_file

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.backbone.save_pretrained(folder)
        lin = self.head.linear
        save_file({"weight": lin.weight.detach().float().cpu().contiguous(),
                   "bias": lin.bias.detach().float().cpu().contiguous()}, str(folder / HEAD_WEIGHTS))
        config = {"format_version": FORMAT_VERSION, "hidden_size": lin.in_features, "metadata": self.metadata}
        (folder / HEAD_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        if tokenizer is not None:
            tokenizer.save_pretrained(folder)
        return folder


def has_value_head(path: str | Path) -> bool:
    return (Path(path) / HEAD_WEIGHTS).is_file()


def read_head_config(folder: str | Path) -> dict[str, Any]:
    """value_head.json of a checkpoint ({} when absent)."""
    f = Path(folder) / HEAD_CONFIG
    if not f.is_file():
        return {}
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MissingValueHeadError(f"{f}: not valid JSON ({exc.msg})") from None


def scorer_parts(folder: Path, tokenizer, role: str, options):
    """The `value-head` format (rltrain.config.reward_formats): a PRM renders its steps as the
    checkpoint's value_head.json says it was trained; an ORM uses the scorer's defaults."""
    from rltrain.rewards.loading import ScorerParts

    model = ValueHeadModel.from_pretrained(folder, dtype=options.dtype, device=options.device)
    if role == "orm":
        return ScorerParts(model)
    from rltrain.rewards.render import RenderConfig
    from rltrain.rewards.renderers import TextStepRenderer

    return ScorerParts(model, TextStepRenderer(RenderConfig(**model.metadata.get("render", {}))))
