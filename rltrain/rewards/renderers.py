"""Renderers: one row of reward-model token ids per response, in the reward model's own format.

Every renderer receives, per response, the policy's prompt text (chat template included, after a
scorer's `prompt_format`), the bare question (`ScoringBatch.questions`, else the prompt) and the
step texts of the policy's segmentation (special tokens left out). A step renderer returns a
`Row` whose k-th read position scores step k (column k of the [B, K] step scores is always step
k of the policy's segmentation); an outcome renderer returns a row read at its last token.

Text renderers here; the formats with their own layout keep theirs beside their model:
`qwen_prm.QwenPRMRenderer`, `classifier_rm.SeparatorStepRenderer` / `ChatOutcomeRenderer`,
`implicit_prm.ImplicitStepRenderer`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from rltrain.rewards.render import RenderConfig, Row, encode_prompt, render_outcome, render_steps


class StepRenderer(Protocol):
    def steps_row(self, tokenizer, prompt: str, question: str, steps: Sequence[str]) -> Row:
        """Token ids of the response's steps in the model's format; one read position per step."""


class OutcomeRenderer(Protocol):
    def outcome_row(self, tokenizer, prompt: str, question: str, response: str) -> Row:
        """Token ids of prompt + response in the model's format; one read position."""


@dataclass(frozen=True)
class TextStepRenderer:
    """`render.render_steps`: the prompt (or the bare question), then each step encoded piece by
    piece with `render` joiners and the tag appended when `tag_id` is set (Math-Shepherd);
    rltrain's value-head PRMs read the policy prompt and the step texts verbatim."""

    render: RenderConfig = RenderConfig()
    tag_id: int | None = None
    question_only: bool = False

    def steps_row(self, tokenizer, prompt: str, question: str, steps: Sequence[str]) -> Row:
        head = question if self.question_only else prompt
        return render_steps(tokenizer, "", steps, self.render, self.tag_id, prompt_ids=encode_prompt(tokenizer, head))


@dataclass(frozen=True)
class TextOutcomeRenderer:
    """`render.render_outcome`: prompt + response verbatim, read at the last token (rltrain's value-head ORM)."""

    def outcome_row(self, tokenizer, prompt: str, question: str, response: str) -> Row:
        return render_outcome(tokenizer, "", response, prompt_ids=encode_prompt(tokenizer, prompt))


def chat_text(tokenizer, messages: list[dict[str, str]], *, generation_prompt: bool = False) -> str:
    """The tokenizer's chat template applied to `messages` (as text)."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"the reward model's tokenizer ({type(tokenizer).__name__}) has no chat template, which "
                         "its format needs")
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def encode_text(tokenizer, text: str) -> list[int]:
    """Token ids of an already templated text (the template holds any special tokens)."""
    return list(tokenizer.encode(text, add_special_tokens=False))
