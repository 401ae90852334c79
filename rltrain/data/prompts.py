"""Prompts: the tokenizer's chat template around the question and a step-by-step instruction.

The default instruction asks for one reasoning step per paragraph (steps separated by a
blank line, which the step segmentation of the reward kernel relies on) and the final
answer in \\boxed{}. Everything is configurable through `PromptConfig`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

DEFAULT_INSTRUCTION = (
    "Solve the problem step by step. Write each step as its own paragraph and separate "
    "consecutive steps with a blank line. Put the final answer in \\boxed{}."
)


@dataclass(frozen=True)
class PromptConfig:
    """user_template: the user message, with {question} and {instruction} fields;
    system_prompt: an optional system message; instruction: the step-by-step request."""

    instruction: str = DEFAULT_INSTRUCTION
    user_template: str = "{question}\n\n{instruction}"
    system_prompt: str | None = None


def build_messages(question: str, config: PromptConfig = PromptConfig()) -> list[dict[str, str]]:
    """Chat messages for one question: [system?] + user."""
    user = config.user_template.format(question=question.strip(), instruction=config.instruction)
    messages = [] if config.system_prompt is None else [{"role": "system", "content": config.system_prompt}]
    messages.append({"role": "user", "content": user})
    return messages


def format_prompt(tokenizer, question: str, config: PromptConfig = PromptConfig()) -> str:
    """The prompt text, ending where the assistant's answer starts.

    Uses the tokenizer's chat template; a tokenizer without one gets the plain messages
    joined by blank lines, followed by a blank line.
    """
    messages = build_messages(question, config)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in messages) + "\n\n"


def tokenize_prompts(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of formatted prompt texts (the template already holds any special tokens)."""
    return [list(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def encode_prompts(tokenizer, questions: Sequence[str],
                   config: PromptConfig = PromptConfig()) -> list[list[int]]:
    """Token ids of each formatted prompt."""
    return tokenize_prompts(tokenizer, [format_prompt(tokenizer, q, config) for q in questions])
