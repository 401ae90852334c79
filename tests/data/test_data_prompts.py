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


def test_separator_token_ids_close_a_step_wherever_the_text_has_a_blank_line(tok):
    import torch

    import rltrain_kernels

    steps = separator_token_ids(tok)
    assert isinstance(steps, rltrain_kernels.StepDelimiter) and steps.delimiter == "\n\n"
    assert steps.vocab_size == len(tok) and steps.simple
    text = "Step 1: 2+3=5.\n\nStep 2: 5*2=10.\n\n\\boxed{10}"
    canonical = tok(text, add_special_tokens=False)["input_ids"]
    newline = tok.convert_tokens_to_ids(tok.tokenize("\n"))
    assert len(newline) == 1
    resplit = []  # every blank line written as two "\n" tokens
    for i in canonical:
        piece = tok.decode([i])
        resplit += (tok(piece[:-2], add_special_tokens=False)["input_ids"] + newline * 2
                    if piece.endswith("\n\n") else [i])
    assert resplit != canonical and tok.decode(resplit) == text
    for row in (canonical, resplit, canonical + [tok.eos_token_id]):
        seg = rltrain_kernels.segment_steps(torch.tensor([row]), torch.ones(1, len(row)), steps, backend="torch")
        assert seg.num_steps.tolist() == [3]


def test_separator_token_ids_cache_and_errors(tok):
    assert separator_token_ids(tok) is separator_token_ids(tok, "\n\n")
    assert separator_token_ids(tok, "\n").delimiter == "\n"
    with pytest.raises(ValueError, match="delimiter"):
        separator_token_ids(tok, "")
    with pytest.raises(ValueError, match="at most"):
        separator_token_ids(tok, "x" * 12)
