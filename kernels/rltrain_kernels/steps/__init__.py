"""Step segmentation: where reasoning steps end, however the tokenizer split the text."""
