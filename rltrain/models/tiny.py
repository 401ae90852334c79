"""A tiny tokenizer and a tiny random causal LM, built offline, for tests and the built-in task.

`build_tiny_tokenizer` trains a byte-level BPE (the `tokenizers` library) on a few texts,
so any string encodes without unknown tokens and frequent pieces such as "\\n\\n" become
single tokens (needed by the step-separator set). It carries a ChatML-style chat template
and eos / pad tokens. `build_tiny_model` makes a 2-layer Qwen2 causal LM with head_dim 32
(vLLM-loadable). `save_tiny` / `load_tiny` round-trip both through a local directory.
Nothing here touches the network.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import torch

from rltrain.config.tiny_model import TinyModelConfig

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|endoftext|>"
SPECIAL_TOKENS = (PAD, IM_START, IM_END)

# ChatML, as Qwen / SmolLM use it: "<|im_start|>role\ncontent<|im_end|>\n" per message.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Qwen2-style split: digits one by one, punctuation runs keep trailing newlines, newline runs
# stay whole, so pieces ending in "\n\n" can become tokens.
_PRETOKENIZE_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

DEFAULT_TEXTS = (
    "Solve the problem step by step. Put each step in its own paragraph, "
    "separated by a blank line, and put the final answer in \\boxed{}.",
    "Step 1: 12 + 7 = 19.\n\nStep 2: 19 * 3 = 57.\n\nThe answer is \\boxed{57}.",
    "Tom has 5 apples and buys 8 more. How many apples does he have?\n\n5 + 8 = 13\n\n#### 13",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 + - * / = ( ) { } \\frac{1}{2} 3.5 -4 50%",
    "user assistant system question answer therefore so we have the total is",
)


def build_tiny_tokenizer(texts: Iterable[str] | None = None, vocab_size: int = 512):
    """Train a byte-level BPE on `texts` (default: a few arithmetic sentences).

    Returns a transformers PreTrainedTokenizerFast with eos "<|im_end|>", pad "<|endoftext|>"
    and a ChatML chat template. Deterministic for the same texts and vocab_size.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"build_tiny_tokenizer: `vocab_size` must be >= {256 + len(SPECIAL_TOKENS)}, "
                         f"got {vocab_size}")
    corpus = list(DEFAULT_TEXTS if texts is None else texts)
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_PRETOKENIZE_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(corpus, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token=IM_END, pad_token=PAD,
        additional_special_tokens=[IM_START], padding_side="left", chat_template=CHAT_TEMPLATE,
    )
    return tok


def build_tiny_model(vocab_size: int, config: TinyModelConfig = TinyModelConfig(), *,
                     seed: int = 0, eos_token_id: int | None = None, pad_token_id: int | None = None):
    """A randomly initialised Qwen2ForCausalLM (float32, eval mode) with the given vocabulary size."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    qcfg = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        head_dim=config.head_dim,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=config.tie_word_embeddings,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(qcfg)
    return model.float().eval()


def build_tiny(texts: Sequence[str] | None = None, vocab_size: int = 512,
               config: TinyModelConfig = TinyModelConfig(), seed: int = 0):
    """(model, tokenizer): a tiny tokenizer and a random model sized to its vocabulary."""
    tok = build_tiny_tokenizer(texts, vocab_size)
    model = build_tiny_model(len(tok), config, seed=seed, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
    return model, tok


def save_tiny(model, tokenizer, directory: str | Path) -> Path:
    """Write model and tokenizer to `directory` (created if needed); returns the path."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def load_tiny(directory: str | Path):
    """(model, tokenizer) from a directory written by `save_tiny` (or any local HF model dir)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(directory)
    if not path.is_dir():
        raise ValueError(f"load_tiny: `directory` {str(path)!r} is not a directory")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return model, tok
