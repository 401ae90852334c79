"""`TinyModelConfig`: the sizes of the tiny Qwen2 model (`rltrain.models.tiny`), without torch."""
from __future__ import annotations

from pydantic import Field, model_validator

from rltrain.config.base import StrictModel, require


class TinyModelConfig(StrictModel):
    """Sizes of the tiny Qwen2 causal LM; head_dim = hidden_size / num_attention_heads."""

    hidden_size: int = Field(64, ge=1, description="width of the residual stream, in features")
    intermediate_size: int = Field(128, ge=1, description="width of the MLP's hidden layer, in features")
    num_hidden_layers: int = Field(2, ge=1, description="decoder layers")
    num_attention_heads: int = Field(2, ge=1, description="query heads (divides hidden_size)")
    num_key_value_heads: int = Field(1, ge=1, description="key / value heads (divides num_attention_heads)")
    max_position_embeddings: int = Field(2048, ge=1, description="longest sequence (prompt + response), in tokens")
    tie_word_embeddings: bool = Field(True, description="share the input embedding and the LM head")

    @model_validator(mode="after")
    def _heads_divide(self) -> "TinyModelConfig":
        require(self.hidden_size % self.num_attention_heads == 0, "hidden_size",
                f"must be divisible by num_attention_heads, got {self.hidden_size} and {self.num_attention_heads}")
        require(self.num_attention_heads % self.num_key_value_heads == 0, "num_key_value_heads",
                f"must divide num_attention_heads, got {self.num_key_value_heads} and {self.num_attention_heads}")
        return self

    @property
    def head_dim(self) -> int:
        """Features per attention head."""
        return self.hidden_size // self.num_attention_heads
