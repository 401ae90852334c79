"""The step-separator token set: every vocabulary token whose text ends with the delimiter."""
from __future__ import annotations


def separator_token_ids(tokenizer, delimiter: str = "\n\n") -> list[int]:
    """Sorted ids of all tokens whose decoded text ends with `delimiter` (e.g. ".\\n\\n", "\\n\\n").

    Used by the reward kernel's step segmentation. May be empty for tokenizers that never
    merge the delimiter into one token (then use a step tag, or a delimiter of one token).
    """
    if not isinstance(delimiter, str) or not delimiter:
        raise ValueError(f"separator_token_ids: `delimiter` must be a non-empty string, got {delimiter!r}")
    ids = list(range(len(tokenizer)))
    texts = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    return [i for i, text in zip(ids, texts) if text.endswith(delimiter)]
