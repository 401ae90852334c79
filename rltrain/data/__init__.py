"""Math datasets, ground-truth answers, prompts and the step-separator token set."""
from rltrain.data.loaders import DATASETS, DatasetFormatError, load_math_dataset, parse_data_spec
from rltrain.data.prompts import DEFAULT_INSTRUCTION, PromptConfig, encode_prompts, format_prompt
from rltrain.data.records import MathProblem
from rltrain.data.separators import separator_token_ids

__all__ = [
    "DATASETS",
    "DEFAULT_INSTRUCTION",
    "DatasetFormatError",
    "MathProblem",
    "PromptConfig",
    "encode_prompts",
    "format_prompt",
    "load_math_dataset",
    "parse_data_spec",
    "separator_token_ids",
]
