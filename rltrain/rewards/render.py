"""Reward-model inputs: token ids of prompt + steps and the positions where each step is scored.

Rows are always built from TEXT, in the reward model's own tokenizer, by the same functions at
PPO time, in best-of-N reranking and in reward-model training (DESIGN.md "Reward-model
input"): the step texts never hold special tokens (they are decoded without them), so a model
never reads a stop token it was not trained on.
- `render_steps`: prompt, then each step encoded piece by piece, with the step-tag token
  appended after each step when the PRM has one. The read position of step k is its tag, or,
  without a tag, the last token of its text. Pieces are encoded separately so that positions
  are exact.
- `render_outcome`: prompt + response, read at the last token.
- `split_steps`: the text rule of step segmentation (`rltrain_kernels.split_text`), for
  training data that arrives as whole solutions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rltrain_kernels import split_text


@dataclass(frozen=True)
class RenderConfig:
    """first_joiner goes between the prompt and step 0, step_joiner between steps; strip: strip
    each step's text first. Step-tag PRMs (Math-Shepherd: "question Step 1: ... ки\\nStep 2: ... ки")
    use (" ", "\\n", True); value-head models read the texts verbatim ("", "", False)."""

    first_joiner: str = ""
    step_joiner: str = ""
    strip: bool = False

    @classmethod
    def math_shepherd(cls) -> "RenderConfig":
        return cls(" ", "\n", True)

    def to_dict(self) -> dict:
        return {"first_joiner": self.first_joiner, "step_joiner": self.step_joiner, "strip": self.strip}


@dataclass(frozen=True)
class Row:
    """input_ids [L] ints; positions: one read position per step (or one per response for an ORM)."""

    input_ids: list[int]
    positions: list[int]


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    return list(tokenizer.encode(prompt, add_special_tokens=True)) if prompt else []


def render_steps(tokenizer, prompt: str, steps: Sequence[str], config: RenderConfig = RenderConfig(),
                 tag_id: int | None = None, prompt_ids: list[int] | None = None) -> Row:
    """prompt + steps as one row; positions[k] = the tag after step k, or the last token of step k."""
    ids = list(prompt_ids) if prompt_ids is not None else encode_prompt(tokenizer, prompt)
    positions = []
    for k, step in enumerate(steps):
        text = step.strip() if config.strip else step
        joiner = config.first_joiner if k == 0 else config.step_joiner
        if k == 0 and not ids:
            joiner = ""
        ids += tokenizer.encode(joiner + text, add_special_tokens=not ids) if (joiner + text) else []
        if tag_id is not None:
            ids.append(int(tag_id))
        if not ids:
            raise ValueError("render_steps: empty prompt and empty first step: nothing to score")
        positions.append(len(ids) - 1)
    return Row(ids, positions)


def render_outcome(tokenizer, prompt: str, response: str, prompt_ids: list[int] | None = None) -> Row:
    """prompt + response as one row, read at the last token."""
    ids = list(prompt_ids) if prompt_ids is not None else encode_prompt(tokenizer, prompt)
    if response:
        ids += tokenizer.encode(response, add_special_tokens=not ids)
    if not ids:
        raise ValueError("render_outcome: empty prompt and empty response: nothing to score")
    return Row(ids, [len(ids) - 1])


def split_steps(text: str, delimiter: str = "\n\n") -> list[str]:
    """Split a solution text into steps exactly as the kernels segment its tokens: each step keeps
    its trailing delimiter run, the steps concatenate back to `text`, and a run followed only by
    whitespace opens no new step; "" -> []."""
    return split_text(text, delimiter)
