"""Ground-truth final answers: GSM8K `#### N`, MATH the last `\\boxed{...}`, MATH500 `answer`."""
from __future__ import annotations

from rltrain.grading.extract import last_boxed

_GSM8K_MARK = "####"


def gsm8k_final_answer(answer_text: str) -> str:
    """The text after the last "####" of a GSM8K answer, commas removed ("1,600" -> "1600")."""
    if _GSM8K_MARK not in answer_text:
        raise ValueError("gsm8k_final_answer: `answer_text` has no '####' line")
    final = answer_text.rsplit(_GSM8K_MARK, 1)[1].strip()
    if not final:
        raise ValueError("gsm8k_final_answer: nothing follows '####' in `answer_text`")
    return final.replace(",", "")


def math_final_answer(solution: str) -> str:
    """The content of the last complete `\\boxed{...}` in a MATH solution (nested braces kept)."""
    boxed = last_boxed(solution)
    if boxed is None or not boxed.strip():
        raise ValueError("math_final_answer: `solution` has no complete \\boxed{...}")
    return boxed.strip()
