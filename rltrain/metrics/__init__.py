"""Per-iteration metrics: response statistics, JSONL / TensorBoard logging."""
