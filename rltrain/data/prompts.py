"""Prompts: the tokenizer's chat template around the question and a step-by-step instruction.

The default instruction asks for one reasoning step per paragraph (steps separated by a
blank line, which the step segmentation of the reward kernel relies on) and the final
answer in \\boxed{}. Everything is configurable through `PromptConfig`.

`bound_prompts` keeps a prompt's end when it is too long (the trainer's data.max_prompt_tokens,
the eval's and rm_train's --max-prompt-tokens): the end holds the instruction and the turn the
model answers in. A prompt is cut to characters before it is tokenized, so a huge one (a 10 MB
question) never reaches the tokenizer whole; each cut is reported (`PromptCut.describe`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

# A prompt keeps at most max_tokens * CHARS_PER_TOKEN characters before it is tokenized: more than
# any tokenizer's tokens hold on average (about 4 characters of English text), so that only prompts
# far beyond the limit are cut to characters; their last max_tokens tokens are kept either way.
CHARS_PER_TOKEN = 32

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


@dataclass(frozen=True)
class PromptCut:
    """A prompt that kept only its end: its position in the batch, its length in characters, in
    tokens (None when it was first cut to characters and never tokenized whole) and the tokens kept."""

    index: int
    chars: int
    tokens: int | None
    kept_tokens: int

    def describe(self, where: str, limit: str) -> str:
        """One line: `where` names the problem, `limit` the setting (e.g. data.max_prompt_tokens=512)."""
        size = f"{self.chars} characters" + (f", {self.tokens} tokens" if self.tokens is not None else "")
        return f"{where}: prompt of {size} cut to its last {self.kept_tokens} tokens ({limit})"


def bound_prompts(tokenizer, texts: Sequence[str],
                  max_tokens: int) -> tuple[list[str], list[list[int]], list[PromptCut]]:
    """(texts, token ids, cuts) of formatted prompts, each bounded to its end: a text keeps its last
    max_tokens * CHARS_PER_TOKEN characters, its ids the last `max_tokens` tokens of that text.
    Prompts within the limit come back unchanged."""
    if max_tokens < 1:
        raise ValueError(f"bound_prompts: `max_tokens` must be >= 1, got {max_tokens}")
    max_chars = max_tokens * CHARS_PER_TOKEN
    kept = [t[-max_chars:] if len(t) > max_chars else t for t in texts]
    ids = tokenize_prompts(tokenizer, kept)
    cuts = [PromptCut(i, len(t), None if len(t) > max_chars else len(x), min(len(x), max_tokens))
            for i, (t, x) in enumerate(zip(texts, ids)) if len(t) > max_chars or len(x) > max_tokens]
    return kept, [x[-max_tokens:] for x in ids], cuts
