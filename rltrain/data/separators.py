"""The step delimiter the kernels segment with, built from a tokenizer's vocabulary.

`separator_token_ids(tokenizer, "\\n\\n")` returns a `rltrain_kernels.StepDelimiter`: a table over
every token id of what its bytes do to the delimiter, so that a blank line closes a step
whether the sampler wrote it as one token "\\n\\n", as "\\n" + "\\n", or as ".\\n" + "\\n".
Token bytes are exact for byte-level BPE vocabularies (GPT-2, Llama 3, Qwen, SmolLM) and
SentencePiece byte-fallback pieces; other tokens are decoded one at a time. Special tokens
(EOS, <|im_end|>, padding) have no text.
"""
from __future__ import annotations

import functools
import re

from rltrain_kernels import StepDelimiter
from rltrain_kernels import delimiter_bytes

_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@functools.lru_cache(maxsize=1)
def _byte_level_alphabet() -> dict[str, int]:
    """The byte-level BPE alphabet: one printable character per byte value (GPT-2's mapping)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[chr(byte)] = byte
        else:
            chars[chr(256 + extra)] = byte
            extra += 1
    return chars


def _piece_bytes(piece: str | None) -> bytes | None:
    """Exact bytes of a vocabulary piece when its encoding is known (byte-level or byte fallback)."""
    if not piece:
        return None
    fallback = _BYTE_FALLBACK.match(piece)
    if fallback:
        return bytes([int(fallback.group(1), 16)])
    alphabet = _byte_level_alphabet()
    if all(ch in alphabet for ch in piece):
        return bytes(alphabet[ch] for ch in piece)
    return None


def token_bytes(tokenizer) -> list[bytes]:
    """The bytes each token id in [0, len(tokenizer)) contributes to a decoded text (specials: b"")."""
    ids = list(range(len(tokenizer)))
    texts = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=True,
                                   clean_up_tokenization_spaces=False)
    partial = [i for i, text in enumerate(texts) if "\ufffd" in text]  # part of a multi-byte character
    pieces = dict(zip(partial, tokenizer.convert_ids_to_tokens(partial))) if partial else {}
    out = []
    for i, text in enumerate(texts):
        exact = _piece_bytes(pieces.get(i)) if i in pieces else None
        out.append(exact if exact is not None else text.encode("utf-8"))
    return out


def separator_token_ids(tokenizer, delimiter: str = "\n\n") -> StepDelimiter:
    """The step delimiter for `rltrain_kernels.segment_steps` / `rltrain_kernels.fused_reward_gae(separator_ids=...)`.

    A step ends where the response text has `delimiter` (a longer run of a repeated character,
    e.g. "\\n\\n\\n", is one delimiter), however the tokens split it. Raises ValueError for an
    empty delimiter or one longer than the kernels' automaton allows (11 UTF-8 bytes).
    """
    if not isinstance(delimiter, str) or not delimiter:
        raise ValueError(f"separator_token_ids: `delimiter` must be a non-empty string, got {delimiter!r}")
    delimiter_bytes(delimiter)
    return _cached(tokenizer, len(tokenizer), delimiter)


@functools.lru_cache(maxsize=8)
def _cached(tokenizer, vocab_size: int, delimiter: str) -> StepDelimiter:
    return StepDelimiter.from_token_texts(token_bytes(tokenizer), delimiter)
