"""Prompts through the chat template, and the step-separator token set."""
import pytest

from rltrain.data import DEFAULT_INSTRUCTION, PromptConfig, encode_prompts, format_prompt, separator_token_ids
from rltrain.models.tiny import build_tiny_tokenizer


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer()


def test_default_prompt_uses_chat_template_and_instruction(tok):
    text = format_prompt(tok, "  What is 2+3?  ")
    assert text.startswith("<|im_start|>user\nWhat is 2+3?\n\n")
    assert DEFAULT_INSTRUCTION in text and "\\boxed{}" in text and "blank line" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_prompt_is_configurable(tok):
    cfg = PromptConfig(instruction="Answer in \\boxed{}.", user_template="{instruction}\n{question}",
                       system_prompt="You are terse.")
    text = format_prompt(tok, "Q?", cfg)
    assert text.startswith("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nAnswer in \\boxed{}.\nQ?")


def test_tokenizer_without_template_gets_plain_text(tok):
    class Plain:
        chat_template = None

    assert format_prompt(Plain(), "Q?", PromptConfig(instruction="I.")) == "Q?\n\nI.\n\n"


def test_encode_prompts_round_trips(tok):
    ids = encode_prompts(tok, ["1+1?", "2+2?"])
    assert len(ids) == 2 and all(isinstance(i, int) for i in ids[0])
    assert tok.decode(ids[1]) == format_prompt(tok, "2+2?")


def test_separator_token_ids_are_exactly_the_tokens_ending_with_delimiter(tok):
    ids = separator_token_ids(tok)
    texts = {i: tok.decode([i]) for i in range(len(tok))}
    assert ids and ids == sorted(ids)
    assert set(ids) == {i for i, t in texts.items() if t.endswith("\n\n")}
    assert {".\n\n", "\n\n"} <= {texts[i] for i in ids}
    # a response with two blank-line separated steps contains separator tokens at the step ends
    encoded = tok("Step 1: 2+3=5.\n\nStep 2: 5*2=10.\n\n\\boxed{10}", add_special_tokens=False)["input_ids"]
    assert sum(t in set(ids) for t in encoded) == 2


def test_separator_token_ids_other_delimiter_and_errors(tok):
    assert set(separator_token_ids(tok, ".\n\n")) <= set(separator_token_ids(tok))
    with pytest.raises(ValueError, match="delimiter"):
        separator_token_ids(tok, "")
